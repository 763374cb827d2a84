"""How long one ``POST /transcribe-s3`` attempt may take: the expected work, bounded.

The server does not answer until the transcript is written, so a flat timeout is either
too short for long files or, for a server that hangs, far too long for short ones. The
attempt's timeout follows the work instead::

    audio seconds  ≈ size ÷ DIRECT_AUDIO_BYTES_PER_SECOND   (events carry no duration)
    expected       = audio seconds × realtime factor        (the server's, from /health,
                                                             else DIRECT_REALTIME_FACTOR)
    timeout        = DIRECT_TIMEOUT_MIN_SECONDS + SLACK × expected,
                     at most DIRECT_TIMEOUT_SECONDS

The floor covers what does not scale with the audio (download, decode start, the write).
An attempt that outlives this bound is a hang, not a long file: the circuit breaker opens
at once (:meth:`~lambda_router.breaker.CircuitBreaker.trip`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SLACK", "AttemptTimeout"]

SLACK = 3.0  # room above the expected time: speeds vary from file to file


@dataclass(frozen=True)
class AttemptTimeout:
    floor: float  # DIRECT_TIMEOUT_MIN_SECONDS
    ceiling: float  # DIRECT_TIMEOUT_SECONDS
    realtime_factor: float  # DIRECT_REALTIME_FACTOR: used when the server reports none
    audio_bytes_per_second: int  # DIRECT_AUDIO_BYTES_PER_SECOND

    def expected_seconds(self, size: int, realtime_factor: float | None = None) -> float:
        """The processing time to expect for an object of ``size`` bytes."""
        factor = realtime_factor if realtime_factor and realtime_factor > 0 else None
        return size / self.audio_bytes_per_second * (factor or self.realtime_factor)

    def for_object(self, size: int, realtime_factor: float | None = None) -> float:
        """Seconds one attempt may take for ``size`` bytes at the server's reported speed."""
        expected = self.expected_seconds(size, realtime_factor)
        return min(self.ceiling, self.floor + SLACK * expected)
