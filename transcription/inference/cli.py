"""The ``transcription-router`` command (also ``python -m transcription``).

::

    transcription-router transcribe FILE... [--format json|txt|srt|vtt|tsv|verbose_json]
                                            [--language es] [--task transcribe|translate]
                                            [--model tiny.en|base|…] [--output-dir DIR]

With one file and no ``--output-dir`` the transcript goes to stdout. Otherwise each FILE is
written to ``DIR/<file name>.<format>`` (``DIR`` defaults to the current folder) and a
progress bar runs on stderr. A file that fails gets one line on stderr naming it and the
reason; the other files are still done, and the exit status is 1 if any failed (2 for a
usage or settings error). The engine is loaded once, from the same settings as the services
(``ENGINE``, ``MODEL``, ``DEVICE``, ``MAX_AUDIO_SECONDS``…), and each file goes through
:func:`transcription.inference.service.transcribe_audio`, the code path the server and worker use.

``transcription-router plan …`` is the capacity planner (:mod:`transcription.planner.command`):
GPUs and monthly cost of a workload against AWS Transcribe. It loads no engine.

``--language`` takes an ISO 639-1 or 639-3 code; without it the language is detected over
the whole file, and a line on stderr names it (``FILE: detected language es (probability
0.97; windows: es 5)``), as does the transcript JSON. The transcript's warnings (mixed
languages, non-English audio given to an English-only model) go to stderr as
``FILE: warning: …``. ``--task translate`` makes English text from any language
(multilingual models such as ``base``).

The heavy modules (numpy, PyAV, the engine) are imported only when a command runs, so
``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from transcription.exceptions import SettingsError, TranscriptionError
from transcription.languages import whisper_language
from transcription.logging import configure
from transcription.planner.command import add_plan_parser, run_plan

if TYPE_CHECKING:
    from transcription.inference.engines.base import Engine, TranscribeOptions
    from transcription.settings import EngineSettings
    from transcription.transcript import Transcript

__all__ = ["main"]

PROG = "transcription-router"
# The writers of transcription.formats; listed here so that --help needs no heavy import.
FORMAT_CHOICES = ("json", "txt", "srt", "vtt", "tsv", "verbose_json")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Transcribe audio files with the router's engine, or plan capacity.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe local audio files",
        description="Transcribe local audio files (wav, mp3, m4a, ogg, opus, webm, flac).",
    )
    transcribe.add_argument("files", nargs="+", type=Path, metavar="FILE")
    transcribe.add_argument("--format", choices=FORMAT_CHOICES, default="txt")
    transcribe.add_argument(
        "--language",
        type=_language,
        default=None,
        help="ISO 639-1 or 639-3 code, e.g. es or spa (default: detect over the whole file)",
    )
    transcribe.add_argument(
        "--task",
        choices=("transcribe", "translate"),
        default="transcribe",
        help="translate: any language to English text (multilingual models only)",
    )
    transcribe.add_argument("--model", default=None, help="default: $MODEL, else tiny.en")
    transcribe.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/<file name>.<format> (default with several files: the current folder)",
    )
    transcribe.add_argument("-v", "--verbose", action="store_true", help="log progress")
    add_plan_parser(commands)
    return parser


def _language(value: str) -> str:
    try:
        return whisper_language(value)
    except TranscriptionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "plan":
        return run_plan(args, PROG)
    configure(PROG, level=logging.INFO if args.verbose else logging.WARNING)
    return transcribe_files(args)


def transcribe_files(args: argparse.Namespace) -> int:
    from transcription.inference.engines import TranscribeOptions

    try:
        settings = _settings(args.model)
        engine = _load_engine(settings)
    except TranscriptionError as error:
        _error(f"error: {_one_line(error)}")
        return EXIT_USAGE
    options = TranscribeOptions(language=args.language, task=args.task)
    files: list[Path] = args.files
    limit = settings.max_audio_seconds
    if len(files) == 1 and args.output_dir is None:
        return _to_stdout(engine, files[0], args.format, options, limit)
    return _to_directory(engine, files, args.output_dir or Path(), args.format, options, limit)


def _settings(model: str | None) -> EngineSettings:
    from transcription.settings import EngineSettings, load

    settings = load(EngineSettings)
    return dataclasses.replace(settings, model=model) if model else settings


def _load_engine(settings: EngineSettings) -> Engine:
    """Load the engine once; a model that cannot be found or read is a settings error."""
    from transcription.inference.engines import load_engine

    try:
        return load_engine(settings)
    except (OSError, RuntimeError, ValueError) as error:
        raise SettingsError(f"cannot load model {settings.model!r}: {error}") from error


def _transcribe(
    engine: Engine, path: Path, fmt: str, options: TranscribeOptions, limit: float
) -> str:
    from transcription.formats import render
    from transcription.inference.service import transcribe_audio

    transcript = transcribe_audio(engine, path, options, max_audio_seconds=limit)
    _report(path, transcript)
    text = render(transcript, fmt)
    return text if not text or text.endswith("\n") else text + "\n"


def _report(path: Path, transcript: Transcript) -> None:
    """The detected language and any warnings, one line each on stderr."""
    if transcript.language_votes:
        votes = Counter(vote.language for vote in transcript.language_votes)
        windows = ", ".join(f"{code} {n}" for code, n in votes.most_common())
        _note(
            f"{path}: detected language {transcript.language} "
            f"(probability {transcript.language_probability:.2f}; windows: {windows})"
        )
    for warning in transcript.warnings:
        _note(f"{path}: warning: {warning}")


def _to_stdout(
    engine: Engine, path: Path, fmt: str, options: TranscribeOptions, limit: float
) -> int:
    try:
        text = _transcribe(engine, path, fmt, options, limit)
    except (TranscriptionError, OSError) as error:
        _error(f"{path}: {_one_line(error)}")
        return EXIT_FAILED
    sys.stdout.write(text)
    sys.stdout.flush()
    return EXIT_OK


def _to_directory(
    engine: Engine,
    files: list[Path],
    output_dir: Path,
    fmt: str,
    options: TranscribeOptions,
    limit: float,
) -> int:
    from tqdm import tqdm

    failed = 0
    # disable=None: a bar on a terminal, none when stderr is a file or a pipe.
    with tqdm(total=len(files), unit="file", file=sys.stderr, disable=None) as bar:
        for path in files:
            bar.set_postfix_str(path.name, refresh=False)
            try:
                text = _transcribe(engine, path, fmt, options, limit)
                output_dir.mkdir(parents=True, exist_ok=True)
                target = output_dir / f"{path.name}.{fmt}"
                target.write_text(text, encoding="utf-8")
            except (TranscriptionError, OSError) as error:
                failed += 1
                _error(f"{path}: {_one_line(error)}")
            else:
                log.info("wrote %s", target)
            bar.update()
    return EXIT_FAILED if failed else EXIT_OK


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__


def _error(message: str) -> None:
    """One line on stderr, written so that a progress bar on screen stays intact."""
    _note(f"{PROG}: {message}")


def _note(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


if __name__ == "__main__":  # python -m transcription.inference.cli
    raise SystemExit(main())
