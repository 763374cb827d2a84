"""``python -m transcription``: the ``transcription-router`` command."""

from transcription.inference.cli import main

raise SystemExit(main())
