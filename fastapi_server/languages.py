"""The language codes Whisper models accept (``language=``), so a wrong one is a 422, not a
failure inside the engine. The list is Whisper's own (faster-whisper and WhisperX share it).
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "normalize_language"]

_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha "
    "haw he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr "
    "ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg "
    "th tk tl tr tt uk ur uz vi yi yo zh yue"
)
LANGUAGES = frozenset(_CODES.split())


def normalize_language(value: str | None) -> str | None:
    """``"EN"`` → ``"en"``; empty → ``None`` (detect); unknown → ``ValueError``."""
    if value is None or not value.strip():
        return None
    code = value.strip().lower()
    if code not in LANGUAGES:
        raise ValueError(f"unknown language code {value!r}; use an ISO-639-1 code such as 'en'")
    return code
