"""The batch worker: drains the jobs queue on GPU boxes; and the scheduler that starts them.

``python -m batch_worker`` runs the worker (:mod:`.worker`); :mod:`.scheduler` is the
Lambda that starts stopped worker boxes when there is backlog. Importing this package is
light (no engine), so the scheduler Lambda stays small.
"""

__all__: list[str] = []
