"""Task priorities and their queues (ARCHITECTURE "Batch jobs"): one SQS queue per priority.

``QUEUE_URL`` is the ``normal`` queue; ``QUEUE_URL_HIGH`` and ``QUEUE_URL_LOW`` default to it,
so a deployment without priority queues behaves exactly as one with a single queue.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PRIORITY", "PRIORITIES", "queue_urls"]

PRIORITIES = ("high", "normal", "low")  # the order workers take them in
DEFAULT_PRIORITY = "normal"


def queue_urls(normal: str, high: str | None = None, low: str | None = None) -> dict[str, str]:
    """The queue of each priority, highest first."""
    return {"high": high or normal, "normal": normal, "low": low or normal}
