"""Speaker turns, the options a caller may give, and the interface every diarizer has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from transcription.diarization.exceptions import InvalidSpeakerCount

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_MAX_SPEAKERS", "MAX_SPEAKERS", "DiarizeOptions", "Diarizer", "Turn"]

# The most speakers a caller may ask for (and the most an estimate considers by default).
MAX_SPEAKERS = 20
DEFAULT_MAX_SPEAKERS = 8


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker, in seconds from the start of the audio."""

    start: float
    end: float
    speaker: str

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass(frozen=True)
class DiarizeOptions:
    """How many speakers to look for: exactly ``num_speakers``, else estimated in a range.

    Checked when built, so a request with ``min_speakers=5, max_speakers=2`` fails with a
    message naming both fields before any audio is decoded.
    """

    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def __post_init__(self) -> None:
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_SPEAKERS:
                raise InvalidSpeakerCount(
                    f"{name}={value} is out of range: give 1 to {MAX_SPEAKERS}", name
                )
        low, high = self.min_speakers, self.max_speakers
        if low is not None and high is not None and low > high:
            raise InvalidSpeakerCount(
                f"min_speakers={low} is more than max_speakers={high}", "min_speakers"
            )
        exact = self.num_speakers
        if exact is not None and not (low or 1) <= exact <= (high or MAX_SPEAKERS):
            raise InvalidSpeakerCount(
                f"num_speakers={exact} is outside min_speakers={low}..max_speakers={high}",
                "num_speakers",
            )

    @classmethod
    def requested(
        cls,
        diarize: bool | None,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        *,
        default: bool = False,
    ) -> DiarizeOptions | None:
        """What a request asks for: ``None`` when it does not diarize.

        ``diarize`` unset takes ``default`` (the ``DIARIZE_DEFAULT`` setting), or true when a
        speaker count is given; a count with ``diarize=false`` is a contradiction, refused.
        """
        counts = {"num_speakers": num_speakers, "min_speakers": min_speakers}
        counts["max_speakers"] = max_speakers
        given = [name for name, value in counts.items() if value is not None]
        if diarize is False and given:
            raise InvalidSpeakerCount(f"{given[0]} needs diarize=true", given[0])
        if diarize is None:
            diarize = default or bool(given)
        return cls(num_speakers, min_speakers, max_speakers) if diarize else None

    def speaker_range(self) -> tuple[int, int]:
        """The counts an estimate may choose from (both ends included)."""
        if self.num_speakers is not None:
            return self.num_speakers, self.num_speakers
        low = self.min_speakers or 1
        return low, max(low, self.max_speakers or DEFAULT_MAX_SPEAKERS)


class Diarizer(Protocol):
    """Finds the speaker turns of 16 kHz mono float32 samples."""

    name: str

    def diarize(
        self,
        audio: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> list[Turn]:
        """Turns in time order, not overlapping; labels are the engine's own."""
        ...
