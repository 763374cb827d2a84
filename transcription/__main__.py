"""``python -m transcription``: the ``transcription-router`` command."""

from transcription.cli import main

raise SystemExit(main())
