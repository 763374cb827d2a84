"""Apertium: rule-based translation on the CPU, from Debian packages (``apertium`` and a pair,
e.g. ``apertium-eng-spa``, which gives the modes ``eng-spa`` and ``spa-eng``).

The installed modes are listed once with ``apertium -l``; a mode ``xxx-yyy`` whose two sides
are languages becomes the pair (xxx, yyy) in canonical ISO codes. Variant modes (``spa-eng_US``)
are used only when no plain mode exists for their pair.

All the texts of one call go through ONE ``apertium -u -f txt <mode>`` process (starting the
pipeline costs more than translating a few hundred segments), each text on its own paragraph:
a blank line between two texts. Apertium treats a blank line as a sentence end and keeps it,
so its transfer rules never move words from one text into the next; in plain newline-delimited
input they do (``the red\\ncar`` comes back as ``el coche\\nrojo``). Whitespace inside a text,
newlines included, is folded to single spaces first, so a text cannot contain a separator. The
output must have as many paragraphs as the input, else :class:`TranslationFailed`.

``-u``: words Apertium does not know (names, mostly) are passed through as they are, without
its ``*`` mark, which would otherwise show up in subtitles.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from transcription.exceptions import UnknownLanguage
from transcription.languages import normalize_language
from transcription.translation.base import check_pair
from transcription.translation.exceptions import TranslationFailed, TranslatorUnavailable

__all__ = ["ApertiumTranslator", "modes_by_pair"]

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install the Debian packages apertium and a language pair, e.g. apertium-eng-spa "
    "(scripts/dev/install-system-packages.sh does this)"
)
_SEPARATOR = "\n\n"
# Apertium may pad a paragraph break with spaces or widen it; any blank line separates.
_BLANK_LINE = re.compile(r"\n\s*\n")
# Listing the modes reads a few files; anything slower than this is a broken install.
_LIST_TIMEOUT_SECONDS = 30.0
# Apertium reads and writes UTF-8 whatever the caller's locale is.
_UTF8 = {"LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class ApertiumTranslator:
    modes: dict[
        tuple[str, str], str
    ]  # (source, target) → Apertium mode, e.g. ("en","es") → "eng-spa"
    program: str = "apertium"
    timeout_seconds: float = 120.0  # for one call, all its texts together
    name: str = "apertium"

    @classmethod
    def discover(
        cls, program: str = "apertium", timeout_seconds: float = 120.0
    ) -> ApertiumTranslator:
        """The translator with every mode installed; :class:`TranslatorUnavailable` without
        the ``apertium`` program."""
        found = shutil.which(program)
        if found is None:
            raise TranslatorUnavailable(
                f"NMT_ENGINE=apertium: no {program!r} program; {INSTALL_HINT}"
            )
        listing = _run([found, "-l"], "", _LIST_TIMEOUT_SECONDS, what="listing the modes")
        modes = modes_by_pair(listing.split())
        if not modes:
            log.warning("apertium has no language pair installed; %s", INSTALL_HINT)
        return cls(modes=modes, program=found, timeout_seconds=timeout_seconds)

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.modes)

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        mode = self.modes[check_pair(self, source, target)]
        folded = [" ".join(text.split()) for text in texts]
        todo = [i for i, text in enumerate(folded) if text]
        out = [""] * len(texts)
        if not todo:
            return out
        stdin = _SEPARATOR.join(folded[i] for i in todo) + "\n"
        stdout = _run(
            [self.program, "-u", "-f", "txt", mode], stdin, self.timeout_seconds, what=mode
        )
        parts = _BLANK_LINE.split(stdout.strip("\n"))
        if len(parts) != len(todo):
            raise TranslationFailed(
                f"apertium {mode} returned {len(parts)} paragraphs for {len(todo)} texts"
            )
        for i, part in zip(todo, parts, strict=True):
            out[i] = " ".join(part.split())
        return out


def modes_by_pair(modes: list[str]) -> dict[tuple[str, str], str]:
    """Apertium modes by the pair they translate, in canonical ISO codes.

    ``["eng-spa", "spa-eng", "spa-eng_US"]`` → ``{("en", "es"): "eng-spa", ("es", "en"):
    "spa-eng"}``.

    Modes that are not ``language-language`` (debugging modes such as ``eng-spa-tagger``) are
    left out; a plain mode wins over a variant (``spa-eng`` over ``spa-eng_US``).
    """
    found: dict[tuple[str, str], str] = {}
    for mode in sorted(modes, key=lambda m: ("_" in m, m)):
        sides = mode.split("-")
        if len(sides) != 2:
            continue
        try:
            pair = (normalize_language(sides[0]), normalize_language(sides[1]))
        except UnknownLanguage:
            continue
        if pair[0] != pair[1]:
            found.setdefault(pair, mode)
    return found


def _run(command: list[str], stdin: str, timeout: float, *, what: str) -> str:
    """Run an Apertium command, bounded in time; its stdout, or a named error."""
    try:
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
            env={**os.environ, **_UTF8},
        )
    except FileNotFoundError:
        raise TranslatorUnavailable(f"no {command[0]!r} program; {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise TranslationFailed(f"apertium ({what}) took longer than {timeout:g} s") from None
    if done.returncode != 0:
        detail = done.stderr.strip()[-500:] or f"exit status {done.returncode}"
        raise TranslationFailed(f"apertium ({what}) failed: {detail}")
    return done.stdout
