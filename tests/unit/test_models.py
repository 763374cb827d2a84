"""The model registry: split weights joined once into the cache, checked, published atomically.

Small packages made in a temp folder stand in for the two base packages here (same layout:
``<package>/data/model.bin.partN``); ``tests/integration/test_languages.py`` joins and loads
the real ones.
"""

from __future__ import annotations

import hashlib
import importlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from transcription.exceptions import ModelChecksumMismatch
from transcription.inference.engines import models
from transcription.inference.engines.models import MODELS, SplitModel, join_model, resolve_model


def make_packages(root: Path, part1: bytes, part2: bytes) -> None:
    for package, files in (
        ("fake_weights_1", {"data/model.bin.part1": part1}),
        ("fake_weights_2", {"data/model.bin.part2": part2, "data/config.json": b"{}"}),
    ):
        (root / package / "data").mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
        for path, content in files.items():
            (root / package / path).write_bytes(content)


def split_model(sha256: str) -> SplitModel:
    return SplitModel(
        name="fake",
        parts=(
            ("fake_weights_1", "data/model.bin.part1"),
            ("fake_weights_2", "data/model.bin.part2"),
        ),
        files=(("fake_weights_2", "data/config.json"),),
        sha256=sha256,
        requirements="requirements/fake.txt",
    )


PART1, PART2 = b"first half " * 1000, b"second half " * 700
JOINED_SHA = hashlib.sha256(PART1 + PART2).hexdigest()


@pytest.fixture(autouse=True)
def forget_fake_packages() -> Iterator[None]:
    """Each test imports the fake packages from its own temp folder."""
    yield
    for package in ("fake_weights_1", "fake_weights_2"):
        sys.modules.pop(package, None)
    importlib.invalidate_caches()


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    make_packages(root, PART1, PART2)
    monkeypatch.syspath_prepend(str(root))
    return root


def test_parts_are_joined_once_and_checked(packages: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = join_model(split_model(JOINED_SHA), cache)

    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == b"{}"
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no temp folder left
    inode = (folder / "model.bin").stat().st_ino
    (packages / "fake_weights_1" / "data" / "model.bin.part1").unlink()  # joining again fails
    assert join_model(split_model(JOINED_SHA), cache) == folder
    assert (folder / "model.bin").stat().st_ino == inode


def test_a_wrong_checksum_is_an_error_and_leaves_nothing(packages: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ModelChecksumMismatch, match=r"fake.*reinstall requirements/fake\.txt"):
        join_model(split_model("0" * 64), cache)
    assert list(cache.iterdir()) == []


def _join_in_child(site: str, cache: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import sys

    sys.path.insert(0, site)
    out.put(str(join_model(split_model(JOINED_SHA), Path(cache))))


def test_two_processes_joining_at_once_get_one_complete_folder(
    packages: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    children = [
        context.Process(target=_join_in_child, args=(str(packages), str(cache), results))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    folders = {results.get(timeout=5) for _ in children}
    assert len(folders) == 1
    (folder,) = folders
    assert (Path(folder) / "model.bin").read_bytes() == PART1 + PART2
    assert [p.name for p in cache.iterdir()] == [Path(folder).name]


def test_other_names_and_paths_pass_through(tmp_path: Path) -> None:
    assert resolve_model("large-v3", tmp_path) == "large-v3"
    assert resolve_model("/models/turbo", tmp_path) == "/models/turbo"
    assert list(tmp_path.iterdir()) == []


def test_base_without_its_packages_passes_the_name_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "base", split_model(JOINED_SHA))  # fake_weights_* not on the path
    assert resolve_model("base", tmp_path) == "base"


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.default_cache_dir() == tmp_path / "smart-transcription-router" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.default_cache_dir() == Path(os.path.expanduser("~/.cache")).joinpath(
        "smart-transcription-router", "models"
    )


def test_losing_the_race_uses_the_winners_folder(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    model = split_model(JOINED_SHA)
    winner = model.folder(cache)
    copyfile = models.shutil.copyfile

    def another_process_finishes_first(source: Path, target: Path) -> object:
        winner.mkdir(parents=True, exist_ok=True)
        (winner / "model.bin").write_bytes(b"the winner's copy")
        return copyfile(source, target)

    monkeypatch.setattr(models.shutil, "copyfile", another_process_finishes_first)
    assert join_model(model, cache) == winner
    assert (winner / "model.bin").read_bytes() == b"the winner's copy"
    assert [p.name for p in cache.iterdir()] == [winner.name]
