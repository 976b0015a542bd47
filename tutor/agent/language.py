"""The language of a message and of a thread (Russian first)."""

from __future__ import annotations

import re


def detect_language(text: str) -> str:
    cyr = len(re.findall(r"[а-яё]", text.lower()))
    lat = len(re.findall(r"[a-z]", text.lower()))
    return "ru" if cyr >= max(3, lat * 0.3) else "en"


def message_language(message: str, thread_language: str | None) -> str:
    """Commands and short replies ("/help", "да", "ok") keep the thread's language, Russian by default."""
    text = message.strip()
    if text.startswith("/") or len(re.findall(r"[a-zа-яё]", text.lower())) < 6:
        if re.search(r"[а-яё]", text.lower()):
            return "ru"
        return thread_language or "ru"
    return detect_language(text[:2000])
