"""The shared transcription core.

The light modules (``layout``, ``job``, ``store``, ``objects``, ``aws_errors``, ``formats``,
``aws``, ``settings``, ``logging``, ``transcript``, ``exceptions``) import only the standard
library and boto3, so the Lambda router can use them. ``transcription.inference`` (audio,
engines, service, CLI) brings in the heavy parts (numpy, PyAV, faster-whisper) and is for the
server, the worker and the CLI.
"""

__all__: list[str] = []
