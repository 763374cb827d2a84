"""The batch worker: drains the jobs queues on the GPU instances of an Auto Scaling group.

``python -m batch_worker`` runs the worker (:mod:`.worker`); :mod:`.scaling` states the
group's scaling decision (AWS makes it; the bench replays it). Importing this package is
light (no engine).
"""

__all__: list[str] = []
