"""The shared transcription core.

The light modules (``layout``, ``job``, ``store``, ``formats``, ``aws``, ``settings``,
``logging``, ``transcript``, ``exceptions``) import only the standard library and boto3, so
the Lambda router can use them. ``audio``, ``engines``, ``service`` and ``cli`` bring in the
heavy parts (numpy, PyAV, faster-whisper) and are for the server, the worker and the CLI.
"""

__all__: list[str] = []
