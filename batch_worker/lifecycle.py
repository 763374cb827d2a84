"""The worker's own box on its EC2 Auto Scaling group: protected while busy, gone when idle,
and a clean exit when the box is taken away (Spot interruption, scale-in, rebalancing).

A thread of its own (:class:`InstanceLifecycle`) looks at the worker every
``TICK_SECONDS`` and at the instance metadata every ``IMDS_POLL_SECONDS``:

- **Scale-in protection.** As soon as the worker holds a message, the instance is
  protected from scale-in (``SetInstanceProtection``); once it has held none and received
  none for ``PROTECTION_IDLE_SECONDS`` the protection goes off again. The delay keeps a busy
  queue of short jobs from switching it on and off per job.
- **Idle: leave.** Nothing received or held for ``IDLE_TIMEOUT_SECONDS``: the worker stops
  receiving, lets its run end, and removes its own instance
  (``TerminateInstanceInAutoScalingGroup`` with ``ShouldDecrementDesiredCapacity``, so the
  group does not start a replacement), then completes the termination hook and exits 0.
- **Warm pool.** A box launched into the group's warm pool (target lifecycle state
  ``Warmed:Stopped``, ``Warmed:Running`` or ``Warmed:Hibernated``) runs its user data and
  the worker too: it loads the model, then takes no job
  (:meth:`InstanceLifecycle.await_in_service`). It completes the launch hook
  (``LAUNCH_HOOK_NAME``), so that the group stops the box only once it is prepared, and
  waits. When the group later starts the box for a scale-out its target state is
  ``InService``: the worker (started again with the box) completes the launch hook again,
  so the box enters service now, and goes to work. A target state of ``Terminated`` or
  ``Warmed:Terminated`` while it waits: it leaves without a job.
- **Taken away.** A Spot ``instance-action`` notice, or a target lifecycle state of
  ``Terminated`` (scale-in of an unprotected box, Capacity Rebalancing): the worker stops
  receiving and returns every prefetched message at once. The running job is finished if its
  expected remaining time (audio seconds × the recent realtime factor, minus what has run)
  fits before the deadline — the Spot notice's time minus ``SPOT_NOTICE_MARGIN_SECONDS``, or
  ``SHUTDOWN_GRACE_SECONDS`` for a lifecycle termination — and otherwise its message goes
  back to the queue at once (visibility 0) for another worker. Then the worker completes the
  termination hook (``CompleteLifecycleAction`` with ``CONTINUE``) and exits.

A failed Auto Scaling call is logged and never stops the worker: every message is still
either finished or returned, and the group's own timeouts end a hook left open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from batch_worker.consumer import Received
from batch_worker.exceptions import MetadataUnavailable
from batch_worker.instance_metadata import InstanceMetadata
from batch_worker.settings import InstanceSettings
from batch_worker.shutdown import Shutdown
from transcription.aws_errors import error_code

__all__ = ["Activity", "GroupMembership", "InstanceLifecycle", "Running", "Speed"]

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25  # how often the worker's own state is looked at (no network)
UNKNOWN_REALTIME_FACTOR = 1.0  # before a job has finished: assume realtime (cautious)
SPEED_SMOOTHING = 0.3  # weight of the newest job in the running realtime factor
LEAVE_WAIT_SECONDS = 30.0  # after its own termination: wait this long for Terminated
TERMINATED = "Terminated"
WARMED = "Warmed:"  # Warmed:Stopped, Warmed:Running, Warmed:Hibernated: a warm pool box
LEAVING = frozenset({TERMINATED, "Warmed:Terminated"})


@dataclass(frozen=True)
class Running:
    """The job the engine is on now."""

    message: Received
    audio_seconds: float
    started: float  # monotonic


@dataclass(frozen=True)
class Activity:
    """What the worker is doing, as the lifecycle thread sees it."""

    held: int  # messages held (received, neither deleted nor returned)
    received: int  # messages received since the run started


class Speed:
    """The recent realtime factor (engine seconds ÷ audio seconds), smoothed over jobs."""

    def __init__(self) -> None:
        self._factor: float | None = None
        self._lock = threading.Lock()

    def record(self, audio_seconds: float, seconds: float) -> None:
        if audio_seconds <= 0:
            return
        factor = seconds / audio_seconds
        with self._lock:
            last = self._factor
            self._factor = factor if last is None else last + SPEED_SMOOTHING * (factor - last)

    @property
    def realtime_factor(self) -> float | None:
        with self._lock:
            return self._factor

    def remaining(self, running: Running, now: float) -> float:
        """Expected seconds until the running job is done."""
        factor = self.realtime_factor
        factor = UNKNOWN_REALTIME_FACTOR if factor is None else factor
        return max(0.0, running.audio_seconds * factor - (now - running.started))


class GroupMembership:
    """The Auto Scaling calls about this one instance; each failure is logged, not raised."""

    def __init__(
        self,
        autoscaling: Any,
        group: str,
        instance_id: str,
        hook_name: str | None,
        launch_hook_name: str | None = None,
    ) -> None:
        self.autoscaling = autoscaling
        self.group = group
        self.instance_id = instance_id
        self.hook_name = hook_name  # the termination hook
        self.launch_hook_name = launch_hook_name

    def protect(self, protected: bool) -> bool:
        return self._call(
            "SetInstanceProtection",
            self.autoscaling.set_instance_protection,
            AutoScalingGroupName=self.group,
            InstanceIds=[self.instance_id],
            ProtectedFromScaleIn=protected,
        )

    def leave(self) -> bool:
        """Terminate this instance, lowering the desired capacity (no replacement)."""
        return self._call(
            "TerminateInstanceInAutoScalingGroup",
            self.autoscaling.terminate_instance_in_auto_scaling_group,
            InstanceId=self.instance_id,
            ShouldDecrementDesiredCapacity=True,
        )

    def complete_hook(self) -> bool:
        """Let the termination go on now instead of at the hook's timeout."""
        if not self.hook_name:
            log.info("no LIFECYCLE_HOOK_NAME: nothing to complete")
            return False
        return self._complete(self.hook_name)

    def complete_launch(self) -> bool:
        """The box is prepared (model loaded): let its launch go on now, into the warm pool
        or into service."""
        if not self.launch_hook_name:
            return False
        return self._complete(self.launch_hook_name)

    def _complete(self, hook_name: str) -> bool:
        return self._call(
            "CompleteLifecycleAction",
            self.autoscaling.complete_lifecycle_action,
            AutoScalingGroupName=self.group,
            LifecycleHookName=hook_name,
            InstanceId=self.instance_id,
            LifecycleActionResult="CONTINUE",
        )

    def _call(self, name: str, fn: Callable[..., Any], **params: Any) -> bool:
        try:
            fn(**params)
        except ClientError as error:
            log.error(
                "%s failed (%s): %s", name, error_code(error), error,
                extra={"fields": {"instance_id": self.instance_id, "asg_name": self.group}},
            )  # fmt: skip
            return False
        except (BotoCoreError, ResponseParserError) as error:
            # ResponseParserError: an answer that is no AWS answer at all, e.g. the HTML 500
            # of an endpoint that does not implement the call (moto's CompleteLifecycleAction).
            log.error("%s failed: %s", name, error)
            return False
        log.info("%s done", name, extra={"fields": {"instance_id": self.instance_id, **params}})
        return True


class InstanceLifecycle:
    """The thread that keeps the worker's box in step with the group (see the module doc)."""

    def __init__(
        self,
        settings: InstanceSettings,
        metadata: InstanceMetadata,
        group: GroupMembership,
        shutdown: Shutdown,
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.group = group
        self.shutdown = shutdown
        self.reason: str | None = None  # why the run is ending: "idle", "spot", "terminated"
        self.protected = False
        self._protect_retry_at = 0.0  # monotonic: after a failed SetInstanceProtection
        self._activity: Callable[[], Activity] = lambda: Activity(0, 0)
        self._running: Callable[[], Running | None] = lambda: None
        self._release: Callable[[Received], bool] = lambda _message: False
        self._release_waiting: Callable[[Running | None], int] = lambda _running: 0
        self._speed = Speed()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, settings: InstanceSettings, shutdown: Shutdown, autoscaling: Callable[[], Any]
    ) -> InstanceLifecycle | None:
        """The lifecycle, or ``None`` off a group (no ``ASG_NAME``, or no metadata service).

        ``autoscaling`` builds the client, only when the lifecycle is on.
        """
        if not settings.enabled:
            return None
        metadata = InstanceMetadata(settings.imds_endpoint, timeout=settings.imds_timeout_seconds)
        try:
            instance_id = metadata.instance_id()
        except MetadataUnavailable as error:
            log.warning("ASG_NAME is set but the instance metadata is unreachable (%s): "
                        "the instance lifecycle is off", error)  # fmt: skip
            return None
        assert settings.asg_name  # enabled
        group = GroupMembership(
            autoscaling(),
            settings.asg_name,
            instance_id,
            settings.lifecycle_hook_name,
            settings.launch_hook_name,
        )
        return cls(settings, metadata, group, shutdown)

    # --- before the first job ------------------------------------------------------------
    def await_in_service(self) -> bool:
        """Wait while the box belongs to the warm pool; ``True`` once it may take jobs.

        Called after the model is loaded. ``Warmed:*``: complete the launch hook once (the
        box is prepared) and ask again every ``IMDS_POLL_SECONDS``, taking no job. Any other
        state (``InService``; none off a group) ends the wait: the launch hook is completed
        (the box waits in ``Pending:Wait`` for it) and the worker goes to work. ``False``: the
        box is being terminated (``Terminated``, ``Warmed:Terminated``; :meth:`finish` then
        completes the termination hook) or a stop was requested (a stopping warm box's
        SIGTERM).
        """
        told_prepared = False
        while not self.shutdown.requested.is_set():
            try:
                state = self.metadata.target_lifecycle_state()
            except MetadataUnavailable as error:
                log.warning("instance metadata: %s", error)
            else:
                if state in LEAVING:
                    self.reason = "terminated"
                    log.info("target lifecycle state %s before the first job: leaving", state)
                    return False
                if state is None or not state.startswith(WARMED):
                    if state is not None:
                        self.group.complete_launch()
                    log.info("target lifecycle state %s: taking jobs", state)
                    return True
                if not told_prepared:
                    log.info("target lifecycle state %s (warm pool): prepared, taking no job "
                             "until the group puts the box in service", state)  # fmt: skip
                    self.group.complete_launch()
                    told_prepared = True
            self.shutdown.requested.wait(self.settings.imds_poll_seconds)
        return False

    # --- wiring (the worker calls these at the start of a run) ---------------------------
    def attach(
        self,
        *,
        activity: Callable[[], Activity],
        running: Callable[[], Running | None],
        release: Callable[[Received], bool],
        release_waiting: Callable[[Running | None], int],
        speed: Speed,
    ) -> None:
        """``release`` returns one held message at once; ``release_waiting`` every held
        message but the running job's (prefetched ones), returning how many."""
        self._activity = activity
        self._running = running
        self._release = release
        self._release_waiting = release_waiting
        self._speed = speed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def finish(self) -> None:
        """After the run: leave the group if idle; complete the hook if taken away; else
        (``--once``, ``--max-jobs``, a signal, an error) drop the protection, so the group may
        scale the box in."""
        if self.reason is None:
            if self.protected:
                self.protected = not self.group.protect(False)
        elif self.reason == "idle":
            if self.group.leave():
                self._await_terminated()
                self.group.complete_hook()
        elif self.reason in {"spot", "terminated"}:
            self.group.complete_hook()

    # --- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        last_seen = self._activity()
        idle_since = time.monotonic()
        next_poll = 0.0
        while not self._stopped.wait(TICK_SECONDS):
            now = time.monotonic()
            seen = self._activity()
            if seen.held or seen.received != last_seen.received:
                idle_since = now
            last_seen = seen
            if self.reason is None:
                self._keep_protection(busy=seen.held > 0, idle_for=now - idle_since)
            if now >= next_poll:
                next_poll = now + self.settings.imds_poll_seconds
                self._watch_metadata()
            if self.reason is None and now - idle_since >= self.settings.idle_timeout_seconds:
                self.reason = "idle"
                self.shutdown.request(f"idle for {self.settings.idle_timeout_seconds:.0f} s")

    def _keep_protection(self, *, busy: bool, idle_for: float) -> None:
        """Protected while busy; off once idle for ``PROTECTION_IDLE_SECONDS``. A failed call
        is tried again after ``IMDS_POLL_SECONDS``, not at every tick."""
        now = time.monotonic()
        if now < self._protect_retry_at:
            return
        wanted = self.protected
        if busy and not self.protected:
            wanted = True
        elif not busy and self.protected and idle_for >= self.settings.unprotect_after:
            wanted = False
        if wanted == self.protected:
            return
        if self.group.protect(wanted):
            self.protected = wanted
        else:
            self._protect_retry_at = now + self.settings.imds_poll_seconds

    def _watch_metadata(self) -> None:
        if self.reason in {"spot", "terminated"}:
            return
        try:
            notice = self.metadata.spot_notice()
            state = None if notice else self.metadata.target_lifecycle_state()
        except MetadataUnavailable as error:
            log.warning("instance metadata: %s", error)
            return
        if notice is not None:
            budget = notice.seconds_left() - self.settings.spot_notice_margin_seconds
            self._taken_away("spot", f"spot {notice.action} at {notice.time:%H:%M:%S}", budget)
        elif state == TERMINATED and self.reason != "idle":
            self._taken_away("terminated", "target lifecycle state Terminated",
                             self.shutdown.grace_seconds)  # fmt: skip

    def _taken_away(self, reason: str, why: str, budget: float) -> None:
        """Stop receiving; finish the running job only if it fits ``budget`` seconds."""
        self.reason = reason
        self.shutdown.request(why, within=max(0.0, budget))
        running = self._running()
        returned = self._release_waiting(running)
        fields: dict[str, Any] = {"reason": reason, "budget_seconds": round(budget, 1),
                                  "returned_prefetched": returned}  # fmt: skip
        if running is not None:
            remaining = self._speed.remaining(running, time.monotonic())
            fields.update(message_id=running.message.message_id,
                          expected_seconds=round(remaining, 1))  # fmt: skip
            if remaining > budget:
                self._release(running.message)
                self.shutdown.request(f"{why}: the running job does not fit")  # ends the grace
                log.warning("taken away: the running job goes back to the queue",
                            extra={"fields": fields})  # fmt: skip
                return
        log.warning("taken away: finishing the running job", extra={"fields": fields})

    def _await_terminated(self) -> None:
        """Wait (bounded) until the group has started this instance's termination, so the
        hook that the termination opens can be completed."""
        deadline = time.monotonic() + LEAVE_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                if self.metadata.target_lifecycle_state() in {TERMINATED, None}:
                    return
            except MetadataUnavailable as error:
                log.warning("instance metadata: %s", error)
            time.sleep(min(1.0, self.settings.imds_poll_seconds))
        log.warning("the lifecycle state did not become Terminated in %.0f s", LEAVE_WAIT_SECONDS)
