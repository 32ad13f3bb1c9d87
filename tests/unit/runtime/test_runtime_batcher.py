from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from modelnode import errors
from modelnode.runtime import ModelTensor, TextDocsInput
from modelnode.runtime.batcher import BatchConfig, Batcher
from modelnode.runtime.tensors import ModelTensors


class GatedKind:
    """Echoes each doc as a tensor name; ``gate`` holds the worker inside ``run`` so tests can
    queue requests behind a batch in flight."""

    function_name = "TEST"

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, ...]]] = []
        self.gate = threading.Event()
        self.running = threading.Event()
        self.fail: Exception | None = None
        self.closed = False

    def validate(self, inp: TextDocsInput) -> None:
        if "bad" in inp.text_docs:
            raise errors.IllegalArgument("bad doc")

    def cost(self, inp: TextDocsInput) -> int:
        return sum(len(d) for d in inp.text_docs)

    def batch_key(self, inp: TextDocsInput) -> str | None:
        return inp.content_type

    def run(self, inputs: list[TextDocsInput]) -> list[list[ModelTensors]]:
        self.running.set()
        assert self.gate.wait(5), "test never opened the gate"
        self.batches.append([inp.text_docs for inp in inputs])
        if self.fail is not None:
            raise self.fail
        return [[[ModelTensor(doc)] for doc in inp.text_docs] for inp in inputs]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def kind() -> GatedKind:
    return GatedKind()


@pytest.fixture
def make_batcher(kind: GatedKind) -> Iterator[Callable[..., Batcher[TextDocsInput]]]:
    made: list[Batcher[TextDocsInput]] = []

    def make(**config: float) -> Batcher[TextDocsInput]:
        batcher = Batcher(kind, BatchConfig(**config))  # type: ignore[arg-type]
        made.append(batcher)
        return batcher

    yield make
    kind.gate.set()
    for batcher in made:
        batcher.close()
        assert batcher.join(5)


def docs(*texts: str, content_type: str | None = None) -> TextDocsInput:
    return TextDocsInput(tuple(texts), content_type)


def names(result: list[ModelTensors]) -> list[str | None]:
    return [tensors[0].name for tensors in result]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


async def hold_worker(batcher: Batcher[TextDocsInput], kind: GatedKind) -> asyncio.Task[list[ModelTensors]]:
    """Put one request in flight and keep the worker busy with it until ``kind.gate`` opens."""
    first = asyncio.create_task(batcher.submit(docs("first")))
    await until(kind.running.is_set)
    return first


def test_waiting_requests_merge_into_one_batch_and_results_split_in_order(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        tasks = [asyncio.create_task(batcher.submit(docs(f"a{i}", f"b{i}"))) for i in range(5)]
        await until(lambda: batcher.queued == 5)
        kind.gate.set()
        results = await asyncio.gather(*tasks)
        assert names(await first) == ["first"]
        assert [names(r) for r in results] == [[f"a{i}", f"b{i}"] for i in range(5)]
        assert kind.batches == [[("first",)], [(f"a{i}", f"b{i}") for i in range(5)]]

    asyncio.run(main())


def test_only_requests_with_the_same_content_type_share_a_batch(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        q1 = asyncio.create_task(batcher.submit(docs("q1", content_type="query")))
        await until(lambda: batcher.queued == 1)
        p1 = asyncio.create_task(batcher.submit(docs("p1", content_type="passage")))
        await until(lambda: batcher.queued == 2)
        q2 = asyncio.create_task(batcher.submit(docs("q2", content_type="query")))
        await until(lambda: batcher.queued == 3)
        kind.gate.set()
        await asyncio.gather(first, q1, p1, q2)
        assert kind.batches[1:] == [[("q1",), ("q2",)], [("p1",)]]

    asyncio.run(main())


def test_batches_respect_the_document_budget(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher(max_batch_docs=2)
        first = await hold_worker(batcher, kind)
        tasks = [asyncio.create_task(batcher.submit(docs(t))) for t in "abc"]
        await until(lambda: batcher.queued == 3)
        kind.gate.set()
        await asyncio.gather(first, *tasks)
        assert kind.batches[1:] == [[("a",), ("b",)], [("c",)]]

    asyncio.run(main())


def test_a_failed_batch_fails_every_waiting_request_with_the_same_exception(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        tasks = [asyncio.create_task(batcher.submit(docs(t))) for t in "abc"]
        await until(lambda: batcher.queued == 3)
        kind.fail = RuntimeError("engine exploded")
        kind.gate.set()
        outcomes = await asyncio.gather(first, *tasks, return_exceptions=True)
        assert all(o is kind.fail for o in outcomes)
        assert batcher.alive  # a failed batch is not a dead worker
        kind.fail = None
        assert names(await batcher.submit(docs("after"))) == ["after"]

    asyncio.run(main())


def test_close_fails_waiting_requests_finishes_the_batch_in_flight_and_closes_the_kind(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        waiting = [asyncio.create_task(batcher.submit(docs(t))) for t in "ab"]
        await until(lambda: batcher.queued == 2)
        batcher.close()
        assert not batcher.alive
        for task in waiting:
            with pytest.raises(errors.ServiceUnavailable):
                await task
        with pytest.raises(errors.ServiceUnavailable):
            await batcher.submit(docs("late"))
        kind.gate.set()
        assert names(await first) == ["first"]
        assert await asyncio.to_thread(batcher.join, 5)
        assert kind.closed

    asyncio.run(main())


def test_a_full_queue_fails_fast_with_429(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher(max_queue=2)
        first = await hold_worker(batcher, kind)
        queued = [asyncio.create_task(batcher.submit(docs(t))) for t in "ab"]
        await until(lambda: batcher.queued == 2)
        with pytest.raises(errors.TooManyRequests) as info:
            await batcher.submit(docs("c"))
        assert info.value.status == 429
        kind.gate.set()
        await asyncio.gather(first, *queued)

    asyncio.run(main())


def test_an_invalid_request_is_refused_alone_before_queueing(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        kind.gate.set()
        with pytest.raises(errors.IllegalArgument):
            await batcher.submit(docs("bad"))
        assert names(await batcher.submit(docs("good"))) == ["good"]
        assert kind.batches == [[("good",)]]

    asyncio.run(main())


def test_a_cancelled_request_is_dropped_from_its_batch(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        gone = asyncio.create_task(batcher.submit(docs("gone")))
        kept = asyncio.create_task(batcher.submit(docs("kept")))
        await until(lambda: batcher.queued == 2)
        gone.cancel()
        await asyncio.sleep(0)
        kind.gate.set()
        assert names(await kept) == ["kept"]
        await first
        assert kind.batches[1:] == [[("kept",)]]

    asyncio.run(main())


def test_the_event_loop_keeps_running_while_a_batch_runs(make_batcher, kind) -> None:
    async def main() -> None:
        batcher = make_batcher()
        first = await hold_worker(batcher, kind)
        started = time.monotonic()
        await asyncio.sleep(0.01)  # would never return if inference held the loop
        assert time.monotonic() - started < 1
        kind.gate.set()
        await first

    asyncio.run(main())


def test_requests_from_several_event_loops(make_batcher, kind) -> None:
    batcher = make_batcher()
    kind.gate.set()
    results: list[list[str | None]] = []

    def caller(i: int) -> None:
        results.append(names(asyncio.run(batcher.submit(docs(f"t{i}")))))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(results) == [[f"t{i}"] for i in range(4)]
