"""A byte-for-byte reproducible Lambda zip of Python packages from the repository.

    package_zip.py OUT ROOT PACKAGE...

Only ``*.py`` files go in (no caches), in sorted order, with a fixed timestamp and mode, so
the same sources give the same CodeSha256 and a second deploy changes nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

__all__ = ["build", "main"]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build(out: Path, root: Path, packages: list[str]) -> None:
    files = sorted(
        path
        for package in packages
        for path in (root / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )
    if not files:
        raise SystemExit(f"no Python files under {', '.join(packages)} in {root}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(tmp, out)


def main(argv: list[str]) -> int:
    out, root, *packages = argv
    build(Path(out), Path(root), packages)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
