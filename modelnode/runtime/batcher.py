"""Dynamic batching for one deployed model (TEI's queue, in miniature).

Callers ``await batcher.submit(inp)`` from any event loop. One dedicated worker thread per model
takes the oldest waiting request plus every other waiting request with the same batch key, up to
a document count and an estimated-token budget, runs them as one batch (inference never blocks an
event loop), and hands each caller its own slice of the result. A request that arrived less than
``max_wait_s`` ago waits that long for company; requests that queued while the previous batch ran
go at once.

Failure rules: a failed batch fails every request in it with the same exception; a full queue
refuses new requests at once (``TooManyRequests``); ``close()`` fails waiting requests
(``ServiceUnavailable``), lets the batch in flight finish, then closes the kind on the worker.
If the worker ever dies, ``alive`` turns false and every waiting and new request fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from modelnode import errors
from modelnode.runtime.kinds import Kind
from modelnode.runtime.tensors import ModelTensors

log = logging.getLogger(__name__)
In = TypeVar("In")


@dataclass(frozen=True)
class BatchConfig:
    max_batch_docs: int = 64  # documents from all merged requests
    max_batch_tokens: int = 16384  # estimated tokens (Kind.cost) from all merged requests
    max_wait_s: float = 0.001  # how long a fresh request waits for others to share its batch
    max_queue: int = 1024  # waiting requests; beyond this, fail fast with 429


@dataclass(eq=False)
class _Request(Generic[In]):
    inp: In
    key: Hashable
    cost: int
    docs: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[ModelTensors]]
    enqueued: float = field(default_factory=time.monotonic)


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():  # the caller gave up (cancelled)
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


class Batcher(Generic[In]):
    def __init__(self, kind: Kind[In], config: BatchConfig | None = None, *, name: str = "model") -> None:
        self.kind = kind
        self.config = config or BatchConfig()
        self._cond = threading.Condition()
        self._queue: deque[_Request[In]] = deque()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"modelnode-infer-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False once closed or if the worker died: ``/health`` should report it."""
        return not self._closed and self._thread.is_alive()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def submit(self, inp: In) -> list[ModelTensors]:
        self.kind.validate(inp)  # a bad request is refused alone, never inside a shared batch
        loop = asyncio.get_running_loop()
        req = _Request(inp, self.kind.batch_key(inp), self.kind.cost(inp), _doc_count(inp), loop, loop.create_future())
        with self._cond:
            if not self.alive:
                raise _unavailable()
            if len(self._queue) >= self.config.max_queue:
                raise errors.TooManyRequests(
                    f"Too many requests are waiting for this model ({self.config.max_queue}); retry later, "
                    "send fewer concurrent requests, or put more documents in each request."
                )
            self._queue.append(req)
            self._cond.notify()
        return await req.future

    def close(self) -> None:
        """Fail waiting requests and stop the worker after the batch in flight. Does not block."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            pending = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        self._fail(pending, _unavailable())

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish (after ``close``); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._run(batch)
        except BaseException:  # a bug, not a failed batch (those are handed to their callers)
            log.exception("inference worker %s died", self._thread.name)
        finally:
            with self._cond:
                self._closed = True
                pending = list(self._queue)
                self._queue.clear()
            self._fail(pending, _unavailable())
            try:
                self.kind.close()
            except Exception:
                log.exception("closing the model on %s failed", self._thread.name)

    def _next_batch(self) -> list[_Request[In]] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._queue[0]
            deadline = first.enqueued + self.config.max_wait_s
            while not self._closed and not self._full(first.key):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._closed:
                return None
            return self._take(first.key)

    def _full(self, key: Hashable) -> bool:
        docs = cost = 0
        for req in self._queue:
            if req.key == key:
                docs, cost = docs + req.docs, cost + req.cost
        return docs >= self.config.max_batch_docs or cost >= self.config.max_batch_tokens

    def _take(self, key: Hashable) -> list[_Request[In]]:
        """Oldest-first requests with ``key`` within the budget (the first always goes); the rest
        stay queued in their order. Cancelled requests are dropped."""
        batch: list[_Request[In]] = []
        keep: deque[_Request[In]] = deque()
        docs = cost = 0
        full = False
        for req in self._queue:
            if req.future.done():
                continue
            if full or req.key != key:
                keep.append(req)
                continue
            if batch and (
                docs + req.docs > self.config.max_batch_docs or cost + req.cost > self.config.max_batch_tokens
            ):
                full = True  # stay FIFO: nothing younger overtakes a request that did not fit
                keep.append(req)
                continue
            batch.append(req)
            docs, cost = docs + req.docs, cost + req.cost
        self._queue = keep
        return batch

    def _run(self, batch: list[_Request[In]]) -> None:
        try:
            results = self.kind.run([req.inp for req in batch])
        except BaseException as exc:
            self._fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for req, result in zip(batch, results, strict=True):
            self._resolve(req, result, None)

    def _fail(self, requests: list[_Request[In]], exc: BaseException) -> None:
        for req in requests:
            self._resolve(req, None, exc)

    @staticmethod
    def _resolve(req: _Request[In], result: Any, exc: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody is waiting
            req.loop.call_soon_threadsafe(_settle, req.future, result, exc)


def _doc_count(inp: Any) -> int:
    return len(getattr(inp, "text_docs", ())) or 1


def _unavailable() -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(
        "The model is not deployed any more (it was undeployed or its inference worker stopped); deploy it and retry."
    )
