"""What some batch-job tasks need beyond the engine: a text translator and diarization.

Both load on first use, so a worker that never sees an ``nmt``/``asr+nmt`` task never
starts a translator, and one that never diarizes never imports torch:

- the translator (``NMT_ENGINE``: Apertium here, CTranslate2 in the GPU image), for ``nmt``
  tasks (a text) and ``asr+nmt`` tasks (the transcript, segment by segment);
- what a task asks of diarization: its ``diarize`` and speaker counts, else the worker's
  ``DIARIZE_DEFAULT``; the diarizer itself is loaded by the service on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from transcription.diarization import DiarizeOptions
from transcription.job import Job
from transcription.settings import TranslationSettings
from transcription.translation.base import Translator
from transcription.translation.registry import load_translator

__all__ = ["TaskExtras"]


class TaskExtras:
    def __init__(
        self,
        translation: TranslationSettings,
        diarize_default: bool = False,
        load: Callable[[TranslationSettings], Translator] = load_translator,
    ) -> None:
        self.translation = translation
        self.diarize_default = diarize_default
        self._load = load
        self._translator: Translator | None = None
        self._lock = threading.Lock()

    def translator(self) -> Translator:
        with self._lock:
            if self._translator is None:
                self._translator = self._load(self.translation)
            return self._translator

    def diarize(self, job: Job) -> DiarizeOptions | None:
        """The task's diarization; raises ``InvalidSpeakerCount`` (permanent) for bad counts."""
        return job.diarization(self.diarize_default)
