"""The heavy half of the core: audio decoding, speech engines, the transcription service, the CLI.

These modules bring in numpy, PyAV and faster-whisper (or WhisperX). The server, the worker
and the CLI use them; the Lambda packages never do: everything in ``transcription`` outside
this subpackage is the light core, and ``tests/unit/test_light_imports.py`` checks both
sides of that boundary.
"""

__all__: list[str] = []
