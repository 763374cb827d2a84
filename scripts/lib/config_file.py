"""config.env and the AWS CLI's config file, for the deploy steps.

    config_file.py write EXAMPLE OUT [--interactive [--ask-all]]
        Write OUT from EXAMPLE (comments and order kept). Each value comes from, in order:
        the environment, the existing OUT, the example's default; --interactive asks for the
        main settings (ASKED) on the terminal, offering that value (--ask-all: for every
        one). Empty API_KEY/API_KEYS are generated, empty SSM parameter names derived from
        PROJECT_NAME. Prints "changed" or "unchanged".
    config_file.py set FILE NAME VALUE
        Record NAME=VALUE in FILE (replace the line or append one). Prints "changed" or
        "unchanged".
    config_file.py aws-config SOURCE TARGET
        Write TARGET: SOURCE (an AWS CLI config file, if it exists) with
        `cli_follow_urlparam = false` in every profile, so the CLI never fetches a parameter
        value that starts with http(s)://.

Values are written shell-quoted when they need it, so config.env can be sourced by bash and
read with shlex.
"""

from __future__ import annotations

import configparser
import getpass
import os
import re
import secrets
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["main", "parse", "quote", "render", "set_value"]

ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
SECRET_NAMES = ("API_KEY", "API_KEYS", "HF_TOKEN")
# What step-000 asks for; the rest keep their defaults unless --ask-all.
ASKED = (
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "PROJECT_NAME",
    "AUDIO_BUCKET",
    "TRANSCRIPT_BUCKET",
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "API_KEY",
    "SERVER_INSTANCE_TYPE",
    "WORKER_INSTANCE_TYPES",
    "MAX_WORKERS",
    "SERVER_ALLOWED_CIDR",
    "KEY_NAME",
)


def quote(value: str) -> str:
    return "" if value == "" else shlex.quote(value)


def _value(raw: str) -> str:
    parts = shlex.split(raw, comments=True) if raw.strip() else []
    return parts[0] if parts else ""


def parse(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(1)] = _value(match.group(2))
    return values


def _write_atomic(path: Path, text: str) -> str:
    if path.exists() and path.read_text() == text:
        return "unchanged"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)  # config.env holds API keys
    os.replace(tmp, path)
    return "changed"


def set_value(path: Path, name: str, value: str) -> str:
    lines = path.read_text().splitlines() if path.exists() else []
    line = f"{name}={quote(value)}"
    for i, old in enumerate(lines):
        match = ASSIGNMENT.match(old.strip())
        if match and match.group(1) == name:
            if _value(match.group(2)) == value:
                return "unchanged"
            lines[i] = line
            break
    else:
        lines.append(line)
    return _write_atomic(path, "\n".join(lines) + "\n")


def _ask(name: str, offered: str, help_lines: list[str]) -> str:
    with open("/dev/tty", "w") as tty, open("/dev/tty") as keyboard:
        for text in help_lines:
            tty.write(f"  {text}\n")
        if name in SECRET_NAMES:
            shown = "(set, hidden)" if offered else "(empty: generated)"
            tty.flush()
            answer = getpass.getpass(f"{name} {shown}: ", stream=tty)
        else:
            tty.write(f"{name} [{offered}]: ")
            tty.flush()
            answer = keyboard.readline().rstrip("\n")
    return answer if answer else offered


def _fill_derived(values: dict[str, str]) -> None:
    project = values.get("PROJECT_NAME") or "transcription-router"
    for name, leaf in (("SERVER_URL_PARAMETER", "server-url"), ("API_KEYS_PARAMETER", "api-keys")):
        if name in values and not values[name]:
            values[name] = f"/{project}/{leaf}"
    if "API_KEY" in values and not values["API_KEY"]:
        keys = [k for k in values.get("API_KEYS", "").split(",") if k.strip()]
        values["API_KEY"] = keys[0].strip() if keys else secrets.token_hex(24)
    if "API_KEYS" in values and not values["API_KEYS"]:
        values["API_KEYS"] = values["API_KEY"]


def render(
    example: Path,
    existing: Mapping[str, str],
    environ: Mapping[str, str],
    asked: tuple[str, ...] = (),
) -> str:
    lines = example.read_text().splitlines()
    values: dict[str, str] = {}
    help_lines: list[str] = []
    for line in lines:
        match = ASSIGNMENT.match(line)
        if not match:
            help_lines = [*help_lines, line.lstrip("# ")] if line.startswith("#") else []
            continue
        name = match.group(1)
        offered = environ.get(name, existing.get(name, _value(match.group(2))))
        values[name] = _ask(name, offered, help_lines) if name in asked else offered
        help_lines = []
    _fill_derived(values)
    out = []
    for line in lines:
        match = ASSIGNMENT.match(line)
        out.append(f"{match.group(1)}={quote(values[match.group(1)])}" if match else line)
    kept = {k: v for k, v in existing.items() if k not in values}
    if kept:
        out += ["", "# --- Kept from the previous config.env (not in config.env.example) ---"]
        out += [f"{k}={quote(v)}" for k, v in kept.items()]
    return "\n".join(out) + "\n"


def aws_config(source: Path, target: Path) -> None:
    parser = configparser.RawConfigParser()
    if source.exists():
        parser.read(source)
    if not parser.has_section("default"):
        parser.add_section("default")
    for section in parser.sections():
        parser.set(section, "cli_follow_urlparam", "false")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w") as out:
        parser.write(out)
    os.replace(tmp, target)


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "write":
        example, out = Path(args[0]), Path(args[1])
        asked: tuple[str, ...] = ()
        if "--interactive" in args:
            asked = tuple(parse(example)) if "--ask-all" in args else ASKED
        text = render(example, parse(out), os.environ, asked)
        sys.stdout.write(_write_atomic(out, text) + "\n")
    elif command == "set":
        sys.stdout.write(set_value(Path(args[0]), args[1], args[2]) + "\n")
    elif command == "aws-config":
        aws_config(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
