"""Names that become parts of owners, thread keys and folder names: one alphabet, bounded.

An owner is the key's name (`alice`), a bot's end user under the bot's name
(`tgbot:tg123`), or a chat-UI user (`ui:alice`, `ui:github:octocat`). ':' separates those
namespaces and '/' separates a thread key's key name from the client's thread id, so
neither may appear in a key name or a bot's user id: with them, a key named `tgbot:u2`
would be the bot's user u2 and read that user's jobs. Lengths are bounded so that every
owner and thread key fits the database columns (see `OWNER_MAX`, `THREAD_KEY_MAX`)."""

from __future__ import annotations

import re

KEY_NAME_MAX = 64  # API key names
USER_MAX = 64  # end-user ids a bot (or an admin) names in a request's `user`
THREAD_ID_MAX = 128  # a client's thread id
UI_USER_MAX = 128  # chat-UI login names, '<provider>:<login>' for OAuth accounts

# names the server itself uses as namespaces: a key called "ui" (role bot) would see every
# chat-UI user's jobs ("ui:<name>"), "local" is the principal when auth is off
RESERVED_KEY_NAMES = frozenset({"ui", "local", "cli", "anonymous"})

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"  # the same, for pydantic/OpenAPI
# a request's `user`: a bot's end user (one name), or for admin keys also '<bot>:<user>'
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]*(:[A-Za-z0-9][A-Za-z0-9._@-]*)?$"
THREAD_ID_PATTERN = r"^[\w.:@-]+$"  # no '/', no spaces; ':' is harmless inside a thread id

# the longest strings the code builds from these parts; the tables' columns are at least this wide
OWNER_MAX = max(KEY_NAME_MAX + 1 + USER_MAX, len("ui:") + UI_USER_MAX)  # 131
THREAD_KEY_MAX = max(KEY_NAME_MAX + 1 + THREAD_ID_MAX, KEY_NAME_MAX + len("/oa-") + USER_MAX, len("ui/") + 64)  # 193


def is_safe_name(name: str, max_len: int = KEY_NAME_MAX) -> bool:
    """ASCII letters, digits, '.', '_', '@', '-'; starts with a letter or digit; 1..max_len."""
    return isinstance(name, str) and 0 < len(name) <= max_len and NAME_RE.fullmatch(name) is not None


def check_key_name(name: str) -> str:
    """The name of a new API key, or ValueError saying what is allowed."""
    if not is_safe_name(name, KEY_NAME_MAX):
        raise ValueError(f"a key name is 1-{KEY_NAME_MAX} characters: ASCII letters, digits, '.', '_', '@', '-' "
                         "(no ':' or '/': they separate a bot's users and thread ids), starting with a letter or digit")
    if name.lower() in RESERVED_KEY_NAMES:
        raise ValueError(f"'{name}' is reserved by the server; choose another key name")
    return name


def check_ui_user(name: str, external: bool = False) -> str:
    """A chat-UI login: a local account name (the key-name alphabet), or for OAuth accounts
    '<provider>:<login>' where provider and login use that alphabet too."""
    parts = name.split(":", 1) if external else [name]
    if (not isinstance(name, str) or len(name) > UI_USER_MAX or (external and len(parts) != 2)
            or not all(is_safe_name(p, UI_USER_MAX) for p in parts)):
        what = "'<provider>:<login>'" if external else "a name"
        raise ValueError(f"a UI user name is {what} of at most {UI_USER_MAX} characters: ASCII letters, digits, "
                         "'.', '_', '@', '-' (no '/', spaces or control characters)")
    return name


def safe_login(login: str, max_len: int = 96) -> str:
    """An OAuth provider's login as a safe name: itself when it already is one, else its
    safe characters plus a short hash of the original (so two odd logins never merge)."""
    import hashlib

    if is_safe_name(login, max_len):
        return login
    slug = re.sub(r"[^A-Za-z0-9._@-]+", "-", login).strip("-._@")[: max_len - 9] or "user"
    return f"{slug}-{hashlib.sha256(login.encode('utf-8', 'replace')).hexdigest()[:8]}"
