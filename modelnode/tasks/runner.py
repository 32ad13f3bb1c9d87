from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from modelnode.errors import ModelNodeError
from modelnode.storage import TASK_INDEX, DocStore, MLTask

log = logging.getLogger("modelnode.tasks")
T = TypeVar("T")

UNFINISHED = ("CREATED", "RUNNING")
RESTART_REASON = "modelnode restarted while this task was running; send the request again."


def now_ms() -> int:
    return int(time.time() * 1000)


class TaskLog:
    """Typed access to ``.plugins-ml-task``."""

    def __init__(self, docs: DocStore) -> None:
        self.docs = docs

    def get(self, task_id: str) -> MLTask | None:
        doc = self.docs.get(TASK_INDEX, task_id)
        return MLTask.from_source(doc.source) if doc else None

    def save(self, task_id: str, task: MLTask) -> None:
        task.last_update_time = now_ms()
        self.docs.put(TASK_INDEX, task_id, task.to_source())

    def update(self, task_id: str, **changes: Any) -> MLTask:
        task = self.get(task_id)
        if task is None:
            raise KeyError(task_id)
        for k, v in changes.items():
            setattr(task, k, v)
        self.save(task_id, task)
        return task

    def record(self, task_id: str, **changes: Any) -> None:
        """Like ``update``, but a task deleted meanwhile is fine: ML Commons lets a CREATED task be
        deleted while its work goes on, and the work then finishes without a task to report to."""
        with contextlib.suppress(KeyError):
            self.update(task_id, **changes)

    def fail_unfinished(self) -> list[str]:
        """After a restart nothing is running any more: say so instead of leaving CREATED forever."""
        failed = []
        for doc in self.docs.all(TASK_INDEX):
            if doc.source.get("state") in UNFINISHED:
                self.update(doc.id, state="FAILED", error=RESTART_REASON)
                failed.append(doc.id)
        return failed


Job = Callable[[], Awaitable[None]]


class TaskRunner:
    def __init__(self, log_: TaskLog) -> None:
        self.log = log_
        self._running: dict[str, asyncio.Task[None]] = {}

    def start(
        self, task_id: str, job: Job, *, show_running: bool, on_failure: Callable[[BaseException], None] | None = None
    ) -> None:
        """Run ``job`` in the background. The job writes its own COMPLETED state (together with the
        records it produced, in one transaction); any exception marks the task FAILED."""

        async def run() -> None:
            try:
                if show_running:
                    self.log.update(task_id, state="RUNNING")
                await job()
            except asyncio.CancelledError:
                self._fail(
                    task_id,
                    "modelnode shut down while this task was running; send the request again.",
                    on_failure,
                    asyncio.CancelledError(),
                )
                raise
            except ModelNodeError as e:
                self._fail(task_id, e.reason, on_failure, e)
            except Exception as e:  # a bug or an engine error: record it, keep serving
                log.exception("task %s failed", task_id)
                self._fail(task_id, f"{type(e).__name__}: {e}", on_failure, e)
            finally:
                self._running.pop(task_id, None)

        self._running[task_id] = asyncio.get_running_loop().create_task(run(), name=f"ml-task-{task_id}")

    def _fail(
        self, task_id: str, reason: str, on_failure: Callable[[BaseException], None] | None, exc: BaseException
    ) -> None:
        if on_failure is not None:
            try:
                on_failure(exc)
            except Exception:
                log.exception("cleanup after task %s failed", task_id)
        with contextlib.suppress(KeyError):  # the task was deleted meanwhile
            self.log.update(task_id, state="FAILED", error=reason)

    def is_running(self, task_id: str) -> bool:
        return task_id in self._running

    @property
    def running_count(self) -> int:
        return len(self._running)

    async def wait_idle(self, timeout: float | None = None) -> None:
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=timeout)

    async def shutdown(self) -> None:
        for t in list(self._running.values()):
            t.cancel()
        await self.wait_idle(timeout=10)


async def run_in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run blocking work (downloads, unzip, model loading) on its own daemon thread.

    Unlike ``asyncio.to_thread``, a job stuck in a stalled download cannot hold up shutdown:
    cancelling the awaiting task returns at once, and the thread dies with the process. What it
    leaves on disk (a ``.partial`` file, a temp folder) is never trusted and is swept at start-up.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:  # delivered to the awaiting task, which decides
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, e)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed while we worked: nobody waits
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=target, name=f"modelnode-job-{getattr(fn, '__name__', 'job')}", daemon=True).start()
    return await future
