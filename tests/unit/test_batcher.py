"""`Batcher`, the group commit of the PostgreSQL store, on a fake batch function: no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from adapters.sql.batch import Batcher, Failed, each_alone


class Gate:
    """A batch function that records each batch and holds it until released."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def __call__(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [item.upper() for item in items]


def first_letter(item: str) -> str:
    return item[0]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_call_goes_at_once_and_gets_its_result() -> None:
    gate = Gate()
    gate.release.set()
    batcher = Batcher(gate, key=str)
    assert await batcher("a") == "A"
    assert await batcher("b") == "B"  # the first batch is over: a new one starts
    assert gate.batches == [["a"], ["b"]]


async def test_calls_arriving_during_a_batch_go_together_in_the_next() -> None:
    gate = Gate()
    batcher = Batcher(gate, key=str)
    first = asyncio.ensure_future(batcher("a"))
    await settle()
    later = [asyncio.ensure_future(batcher(item)) for item in ("b", "c", "d")]
    await settle()
    assert gate.batches == [["a"]]  # one batch in flight, the others wait
    gate.release.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "C", "D"]
    assert gate.batches == [["a"], ["b", "c", "d"]]


async def test_items_of_one_key_never_share_a_batch_and_keep_their_order() -> None:
    gate = Gate()
    gate.release.set()
    batcher = Batcher(gate, key=first_letter)
    calls = [batcher(item) for item in ("a1", "b1", "a2", "a3", "b2")]
    assert await asyncio.gather(*calls) == ["A1", "B1", "A2", "A3", "B2"]
    assert gate.batches == [["a1", "b1"], ["a2", "b2"], ["a3"]]


async def test_a_batch_holds_at_most_max_size_items() -> None:
    gate = Gate()
    gate.release.set()
    batcher = Batcher(gate, key=str, max_size=2)
    assert await asyncio.gather(*(batcher(c) for c in "abcde")) == list("ABCDE")
    assert gate.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_max_in_flight_batches_run_at_once() -> None:
    gate = Gate()
    batcher = Batcher(gate, key=str, max_in_flight=2)
    calls = [asyncio.ensure_future(batcher("a"))]
    await settle()
    calls.append(asyncio.ensure_future(batcher("b")))
    await settle()
    calls.append(asyncio.ensure_future(batcher("c")))
    await settle()
    assert gate.batches == [["a"], ["b"]]
    gate.release.set()
    assert await asyncio.gather(*calls) == ["A", "B", "C"]


async def test_a_failed_batch_fails_each_of_its_calls_and_only_those() -> None:
    gate = Gate(fail_on="b")
    batcher = Batcher(gate, key=str)
    first = asyncio.ensure_future(batcher("a"))
    await settle()
    failing = [asyncio.ensure_future(batcher(item)) for item in ("b", "c")]
    await settle()
    gate.release.set()
    assert await first == "A"
    for call in failing:
        with pytest.raises(ValueError, match="bad item b"):
            await call
    assert await batcher("d") == "D"  # the batcher goes on


async def test_a_cancelled_call_does_not_cancel_the_others_in_its_batch() -> None:
    gate = Gate()
    batcher = Batcher(gate, key=str)
    calls = [asyncio.ensure_future(batcher(item)) for item in ("a", "b")]
    await settle()
    calls[0].cancel()
    await settle()
    gate.release.set()
    assert await calls[1] == "B"
    assert calls[0].cancelled()
    assert gate.batches == [["a", "b"]]  # "a" was sent all the same: it may have applied


async def test_a_wrong_number_of_results_is_an_error_for_the_batch() -> None:
    async def short(items: Sequence[str]) -> list[str]:
        return list(items)[:-1]

    batcher = Batcher(short, key=str)
    with pytest.raises(RuntimeError, match="1 results for a batch of 2"):
        await asyncio.gather(batcher("a"), batcher("b"))


async def test_without_a_key_any_items_share_a_batch() -> None:
    gate = Gate()
    batcher: Batcher[str, str] = Batcher(gate)
    first = asyncio.ensure_future(batcher("a"))
    await settle()
    later = [asyncio.ensure_future(batcher(item)) for item in ("b", "b", "b")]
    await settle()
    gate.release.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "B", "B"]
    assert gate.batches == [["a"], ["b", "b", "b"]]


class Statement:
    """An all-or-nothing batch function that fails whenever a bad item is in it."""

    def __init__(self, *bad: str, outage: bool = False) -> None:
        self.bad = set(bad)
        self.outage = outage
        self.runs: list[list[str]] = []

    async def __call__(self, items: Sequence[str]) -> list[str]:
        self.runs.append(list(items))
        if self.bad & set(items):
            raise (ConnectionError if self.outage else ValueError)(f"bad among {items}")
        return [item.upper() for item in items]


def not_an_outage(exc: Exception) -> bool:
    return not isinstance(exc, ConnectionError)


async def test_each_alone_splits_a_failed_batch_until_only_its_culprit_fails() -> None:
    run = Statement("f")
    got = await each_alone(run, list("abcdefgh"), splittable=not_an_outage)
    assert [g if isinstance(g, str) else "failed" for g in got] == [*"ABCDE", "failed", *"GH"]
    failure = got[5]
    assert isinstance(failure, Failed)
    assert str(failure.error) == "bad among ['f']"
    assert len(run.runs) == 7  # the whole, then halves down to the culprit: 1 + 2 log2(8)


async def test_each_alone_does_not_split_for_an_outage() -> None:
    run = Statement("c", outage=True)
    got = await each_alone(run, list("abcd"), splittable=not_an_outage)
    assert all(isinstance(g, Failed) for g in got)
    assert run.runs == [list("abcd")]


async def test_a_call_that_fails_alone_fails_only_itself() -> None:
    run = Statement("c")

    async def isolating(items: Sequence[str]) -> list[str | Failed]:
        return await each_alone(run, items, splittable=not_an_outage)

    batcher: Batcher[str, str] = Batcher(isolating)
    got = await asyncio.gather(*(batcher(item) for item in "abcd"), return_exceptions=True)
    assert got[:2] == ["A", "B"]
    assert got[3] == "D"
    assert isinstance(got[2], ValueError)


async def test_the_result_of_a_cancelled_call_is_given_back() -> None:
    gate = Gate()
    given_back: list[tuple[str, str]] = []

    async def orphaned(item: str, result: str) -> None:
        given_back.append((item, result))

    batcher = Batcher(gate, key=str, orphaned=orphaned)
    calls = [asyncio.ensure_future(batcher(item)) for item in ("a", "b")]
    await settle()
    calls[1].cancel()
    gate.release.set()
    assert await calls[0] == "A"
    await settle()
    assert given_back == [("b", "B")]
