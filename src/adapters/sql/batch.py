"""Group commit: calls that arrive while the database is busy go to it together.

A `Batcher` runs a batch function over the items of concurrent calls. A call that finds fewer
than `max_in_flight` batches running starts one with everything then waiting (its own item
included); calls arriving meanwhile wait for the next. So a lone call is sent at once, as
before, and under load each statement and commit serves many calls: the database's cost per
call, and the server's (one round trip and one socket write per batch), fall as the load rises.

Two items with the same key never share a batch (the later one waits for the next), so that
a batch statement touches each row once and same-key items are applied in arrival order.

One item never fails the others: `each_alone` runs an all-or-nothing batch function and, when
it fails, splits the batch in halves and runs each again, down to the culprit, whose failure
is its own (`Failed`). A call whose caller has gone (cancelled) when its result comes is
handed to `orphaned`, so that what it took (a claim) can be given back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("jobcloud.batch")


@dataclass(frozen=True, slots=True)
class Failed:
    """The result of an item whose part of a batch failed: its caller gets `error`."""

    error: Exception


async def each_alone(
    run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
    items: Sequence[T],
    *,
    splittable: Callable[[Exception], bool],
) -> list[R | Failed]:
    """`run(items)`, all or nothing; if it fails with a `splittable` error (one that an item
    can cause, not an outage), each half again, until the failures are those of single items.
    One bad item among n costs about 2 log2(n) more statements; the others succeed."""
    try:
        return list(await run(items))
    except Exception as exc:
        if len(items) == 1 or not splittable(exc):
            return [Failed(exc)] * len(items)
    half = len(items) // 2
    first = await each_alone(run, items[:half], splittable=splittable)
    return first + await each_alone(run, items[half:], splittable=splittable)


class Batcher(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R | Failed]]],
        *,
        key: Callable[[T], Hashable] | None = None,
        max_size: int = 256,
        max_in_flight: int = 1,
        orphaned: Callable[[T, R], Awaitable[None]] | None = None,
    ) -> None:
        """`run(items)` returns one result per item, in order, `Failed` for an item that
        failed alone; what it raises, every call of the batch raises. Items of one `key`
        never share a batch (without a key, any may). `orphaned(item, result)`: called for a
        result whose caller was cancelled meanwhile."""
        self._run = run
        self._orphaned = orphaned
        self._key = key
        self._max_size = max_size
        self._max_in_flight = max_in_flight
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references to running batches

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._in_flight < self._max_in_flight:
            # A task of its own: a caller that is cancelled must not cancel the others' batch.
            self._in_flight += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await self._run_while_waiting()
        finally:
            # No await between the last look at `_waiting` and this: a call made after it
            # starts a batch of its own.
            self._in_flight -= 1

    async def _run_while_waiting(self) -> None:
        while self._waiting:
            batch = self._take()
            try:
                results = await self._run([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
            except Exception as exc:  # handed to every caller of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutdown): so are the calls waiting on it
                for _, future in batch:
                    future.cancel()
                raise
            orphans = [
                (item, result)
                for (item, future), result in zip(batch, results, strict=True)
                if not _settle(future, result) and not isinstance(result, Failed)
            ]
            for item, result in orphans:
                await self._give_back(item, result)

    async def _give_back(self, item: T, result: R) -> None:
        if self._orphaned is None:
            return
        try:
            await self._orphaned(item, result)
        except Exception:  # the next batches must still go
            log.exception("could not give back the result of a cancelled call")

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        later: list[tuple[T, asyncio.Future[R]]] = []
        keys: set[Hashable] = set()
        for entry in self._waiting:
            key = self._key(entry[0]) if self._key else object()
            if len(batch) < self._max_size and key not in keys:
                keys.add(key)
                batch.append(entry)
            else:
                later.append(entry)
        self._waiting = later
        return batch


def _settle(future: asyncio.Future[R], result: R | Failed) -> bool:
    """Answer the caller; False when it is gone (cancelled)."""
    if future.done():
        return False
    if isinstance(result, Failed):
        future.set_exception(result.error)
    else:
        future.set_result(result)
    return True
