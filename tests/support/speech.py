"""Speech in several languages, spoken by espeak-ng into a test's temp folder.

Nothing here is committed audio: each session makes its files (a few seconds of CPU). It
needs the ``espeak-ng`` program (Debian package ``espeak-ng``); without it the tests that
use it fail, saying so, rather than skip: a missing install must not pass unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from transcription.inference.audio import SAMPLE_RATE, decode_audio

__all__ = ["SCRIPTS", "clip", "speak"]

# 21 to 23 s each at espeak-ng's default speed.
SCRIPTS = {
    "en": (
        "Good morning. Today we will talk about the weather in the city. Tomorrow it will "
        "rain in the afternoon, and it will be cold at night, so bring a warm coat. On "
        "Thursday the sun comes back, and the weekend will be dry and bright. Please call "
        "the office before noon if you want to book a table for the team dinner on Friday. "
        "The new library opens next month, with a reading room for children and a café."
    ),
    "es": (
        "Buenos días. Hoy vamos a hablar del tiempo en la ciudad. Mañana lloverá por la "
        "tarde y hará frío por la noche, así que lleven un abrigo. El jueves vuelve el sol, "
        "y el fin de semana será seco y luminoso. Por favor, llamen a la oficina antes del "
        "mediodía si quieren reservar una mesa para la cena del equipo el viernes. La nueva "
        "biblioteca abre el mes que viene, con una sala de lectura para niños y un café."
    ),
    "de": (
        "Guten Morgen. Heute sprechen wir über das Wetter in der Stadt. Morgen regnet es am "
        "Nachmittag, und in der Nacht wird es kalt, also nehmen Sie einen warmen Mantel mit. "
        "Am Donnerstag kommt die Sonne zurück, und das Wochenende wird trocken und hell. "
        "Bitte rufen Sie vor Mittag im Büro an, wenn Sie einen Tisch reservieren möchten. Die "
        "neue Bibliothek öffnet nächsten Monat, mit einem Lesesaal für Kinder und einem Café."
    ),
}


def speak(language: str, path: Path, text: str | None = None) -> Path:
    """``SCRIPTS[language]`` (or ``text``) spoken with espeak-ng's voice for it, as WAV."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    subprocess.run(
        [espeak, "-v", language, "-w", str(path), text or SCRIPTS[language]],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def clip(path: Path, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a file as 16 kHz samples (padded with silence if shorter)."""
    samples = decode_audio(path).samples[: int(seconds * SAMPLE_RATE)]
    return np.pad(samples, (0, int(seconds * SAMPLE_RATE) - len(samples)))
