"""Digests of files, for comparing what AWS holds with what a step would send.

digest.py sha256 FILE     base64 of the SHA-256 digest (a Lambda function's CodeSha256)
digest.py base64 FILE     the file, base64-encoded (EC2 returns user data that way)
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str]) -> int:
    command, path = argv
    data = Path(path).read_bytes()
    if command == "sha256":
        out = base64.b64encode(hashlib.sha256(data).digest()).decode()
    elif command == "base64":
        out = base64.b64encode(data).decode()
    else:
        raise SystemExit(f"unknown command {command!r}")
    sys.stdout.write(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
