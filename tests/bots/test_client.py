"""The platform-neutral pieces of tutor.bots.client: message splitting and error texts."""

from tutor.bots.client import TutorAPIError, friendly, language, split_message, utf16_len


def test_split_prefers_paragraphs_then_words_and_keeps_everything():
    text = "\n\n".join(f"Абзац {i}: " + "слово " * 120 for i in range(8))
    parts = split_message(text, 1000)
    assert len(parts) > 1 and all(len(p) <= 1000 for p in parts)
    assert all(p.startswith("Абзац") for p in parts[:2])  # cut at a paragraph, not mid-word
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_split_measures_telegram_utf16_units():
    text = "📈" * 3000  # outside the BMP: 2 UTF-16 units each, no spaces to cut at
    parts = split_message(text, 4096, utf16_len)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text
    assert split_message("", 100) == ["…"]


def test_friendly_errors():
    assert "ключ API" in friendly(TutorAPIError("invalid API key", 401), "ru")
    assert "через 42 с" in friendly(TutorAPIError("rate limited", 429, retry_after=42), "ru")
    assert "in 5 s" in friendly(TutorAPIError("rate limited", 429, retry_after=5), "en")
    assert "недоступен" in friendly(OSError("connection refused"), "ru")
    assert language("What is a convolution?") == "en" and language("/jobs") == "ru"
