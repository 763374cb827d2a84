"""Word error rate with the usual text normalisation (case, punctuation, hyphens, numbers).

``wer(reference, hypothesis)`` = (substitutions + deletions + insertions) / reference words,
by Levenshtein distance over normalised words. No dependency beyond the standard library.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "wer"]

_NUMBERS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
    "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten",
}  # fmt: skip


def normalize(text: str) -> list[str]:
    """Lower case, accents folded, punctuation dropped (apostrophes kept), small numbers spelt."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(r"[-‐–—/]", " ", folded)
    folded = re.sub(r"[^\w\s']", "", folded).replace("'", "")
    return [_NUMBERS.get(word, word) for word in folded.split()]


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution
                )
            )
        previous = current
    return previous[-1] / len(ref)
