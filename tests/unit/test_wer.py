"""The word error rate helper the transcription tests rely on."""

from __future__ import annotations

import pytest

from tests.support.wer import normalize, wer


def test_normalization_ignores_case_punctuation_and_spelling_of_small_numbers() -> None:
    assert normalize("Hello, World! It's 2 o'clock—now.") == [
        "hello",
        "world",
        "its",
        "two",
        "oclock",
        "now",
    ]
    assert normalize("Café") == ["cafe"]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat down", "The cat sat down.", 0.0),
        ("the cat sat down", "the dog sat down", 0.25),  # one substitution
        ("the cat sat down", "the cat down", 0.25),  # one deletion
        ("the cat sat down", "the cat sat right down", 0.25),  # one insertion
        ("the cat sat down", "", 1.0),
        ("a b", "c d e f", 2.0),  # more errors than reference words
        ("", "", 0.0),
    ],
)
def test_wer(reference: str, hypothesis: str, expected: float) -> None:
    assert wer(reference, hypothesis) == pytest.approx(expected)
