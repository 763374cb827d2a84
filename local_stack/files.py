"""Files the local stack writes while others may read them: whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text``: a reader sees the old file or the new one, never a part.

    The new file has ``mode`` from its creation on (the temporary file is made 0600 by
    ``mkstemp`` and only then set to ``mode``), so a private file (0600) is never readable by
    others, not even for a moment, and an older, wider file at ``path`` is replaced, not
    rewritten in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
