"""Batches going out: who is in a batch is kept packed, and comes back exactly as it went in; the
pool that sends them keeps its bound, its order and its stops (synchronised on events, no sleeps)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator

import pytest

from airflow_provider_clevertap.hooks.batches import PackedIdentities, run_batches
from airflow_provider_clevertap.responses import BatchResult

# Identities are whatever the warehouse holds: quotes, separators, NUL, non-ASCII, long ones,
# and (from callers of the hook itself) numbers.
AWKWARD = ["plain", 'with "quotes" and \\', "tab\tnew\nline", "nul\x00inside", "ünïcödé ☃ 𝄞", "x" * 600, "", 42, "42"]


def test_identities_come_back_in_order_and_unchanged():
    packed = PackedIdentities(AWKWARD)

    assert len(packed) == len(AWKWARD)
    assert list(packed) == AWKWARD
    assert [packed[position] for position in range(len(AWKWARD))] == AWKWARD
    assert packed[-1] == "42" and packed[7] == 42
    assert packed.index("nul\x00inside") == 3


def test_a_packed_batch_does_not_keep_the_rows_own_strings_alive():
    # The point of packing: a batch in flight holds one allocation, not references to the
    # strings the rows were read into.
    identity = "".join(["user-", "12345"])  # built at run time: not an interned constant
    references = sys.getrefcount(identity)

    packed = PackedIdentities([identity])

    assert sys.getrefcount(identity) == references
    assert packed[0] == identity


def test_an_empty_batch_packs_to_nothing():
    packed = PackedIdentities([])

    assert len(packed) == 0
    assert list(packed) == []


# -- run_batches: the bounded pool that sends them ---------------------------------------------------

WAIT = 30  # seconds any one wait below may take before the test fails instead of hanging


def outcome(batch: int) -> BatchResult:
    return BatchResult([batch])


def sent_batches(results: Iterable[BatchResult]) -> list[int]:
    return [result.identities[0] for result in results]


class Collector(threading.Thread):
    """Reads ``run_batches`` to its end in a thread of its own, as the operator's main thread does."""

    def __init__(self, batches: Iterator[int], send: Callable[[int], BatchResult], concurrency: int) -> None:
        super().__init__(daemon=True)
        self.interrupts = 0
        self.results: list[BatchResult] = []
        self.error: BaseException | None = None
        self._run = run_batches(batches, send, concurrency=concurrency, on_interrupt=self._interrupt)

    def _interrupt(self) -> None:
        self.interrupts += 1

    def run(self) -> None:
        try:
            self.results.extend(self._run)
        except BaseException as error:  # noqa: BLE001 - the test reads it
            self.error = error

    def finish(self) -> None:
        self.join(WAIT)
        assert not self.is_alive(), "run_batches did not end"


def test_outcomes_come_in_the_order_batches_complete_each_once():
    first_may_finish = threading.Event()

    def send(batch: int) -> BatchResult:
        if batch == 0:
            assert first_may_finish.wait(WAIT)
        return outcome(batch)

    results = run_batches(iter(range(6)), send, concurrency=2, on_interrupt=lambda: None)

    # Batch 0 is held: the others, sent after it, come first.
    early = [next(results) for _ in range(5)]
    first_may_finish.set()
    rest = list(results)

    assert sorted(sent_batches(early)) == [1, 2, 3, 4, 5]
    assert sent_batches(rest) == [0]


def test_no_more_batches_than_the_concurrency_are_in_flight():
    concurrency = 3
    changed = threading.Condition()
    in_flight, most = 0, 0
    held = threading.Event()

    def send(batch: int) -> BatchResult:
        nonlocal in_flight, most
        with changed:
            in_flight += 1
            most = max(most, in_flight)
            changed.notify_all()
        try:
            assert held.wait(WAIT)
            return outcome(batch)
        finally:
            with changed:
                in_flight -= 1

    pulled: list[int] = []

    def batches() -> Iterator[int]:
        for batch in range(40):
            with changed:
                pulled.append(batch)
                changed.notify_all()
            yield batch

    collector = Collector(batches(), send, concurrency)
    collector.start()
    # The first batches are held in flight until the pool is full and its window queued behind it
    # (twice the concurrency): a pool larger than the bound would start the queued ones meanwhile.
    with changed:
        assert changed.wait_for(lambda: in_flight >= concurrency and len(pulled) >= 2 * concurrency, WAIT)
    held.set()
    collector.finish()

    assert collector.error is None
    assert most == concurrency
    assert sorted(sent_batches(collector.results)) == list(range(40))


def test_a_failed_batch_stops_the_sending_the_ones_in_flight_finish_then_it_is_raised():
    failed = threading.Event()
    sent: list[int] = []
    read: list[int] = []

    def send(batch: int) -> BatchResult:
        sent.append(batch)
        if batch == 1:
            failed.set()
            raise ValueError("batch 1 failed")
        assert failed.wait(WAIT)  # batch 0 is in flight when batch 1 fails
        return outcome(batch)

    def batches() -> Iterator[int]:
        for batch in range(100):
            read.append(batch)
            yield batch

    collector = Collector(batches(), send, concurrency=2)
    collector.start()
    collector.finish()

    assert isinstance(collector.error, ValueError)
    assert sent_batches(collector.results) == [0]  # the batch in flight finished and came out first
    assert sorted(sent) == [0, 1]  # the queued batches were never sent
    assert len(read) <= 2 * 2  # nor more batches read than the window once it failed
    assert collector.interrupts == 0  # a failure is not an interruption: nothing to cut


@pytest.mark.parametrize("stop", ["close", "timeout"])
def test_a_caller_that_stops_reading_cuts_the_requests_in_flight_and_sends_nothing_more(stop):
    cut = threading.Event()
    started = threading.Semaphore(0)
    sent: list[int] = []

    def send(batch: int) -> BatchResult:
        sent.append(batch)
        if batch > 0:  # held in flight until cut, as a request is by on_interrupt
            started.release()
            assert cut.wait(WAIT)
        return outcome(batch)

    results = run_batches(iter(range(100)), send, concurrency=2, on_interrupt=cut.set)
    assert sent_batches([next(results)]) == [0]
    assert started.acquire(timeout=WAIT)  # a batch is in flight

    if stop == "close":  # the caller stops reading
        results.close()
    else:  # Airflow's execution timeout raises in the caller's thread
        with pytest.raises(TimeoutError):
            results.throw(TimeoutError("execution timeout"))

    assert cut.is_set()
    # The pool has shut down: the batch in flight was cut, the queued ones never sent.
    assert max(sent) <= 2 and len(sent) <= 3
