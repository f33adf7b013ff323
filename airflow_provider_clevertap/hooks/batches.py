"""Batches going out: items grouped into requests, encoded, sent by a bounded pool of workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import msgspec

from airflow_provider_clevertap.responses import BatchResult

_pack = msgspec.json.Encoder().encode
_unpack = msgspec.json.Decoder().decode


class PackedIdentities(Sequence[Any]):
    """Who is in a batch, in order, packed into one JSON string until somebody asks.

    A batch holds its identities for as long as its request takes, so that CleverTap's refusals
    can be named. Held as the rows' own strings, a thousand per batch, they pinned the pages the
    next rows are read into and slowed the whole sync (docs/benchmarks.md, "Identities packed in a
    batch in flight"); packed, they are one allocation, unpacked only when a refusal is named.
    """

    __slots__ = ("_count", "_packed", "_unpacked")

    def __init__(self, identities: Sequence[Any]) -> None:
        self._count = len(identities)
        self._packed = _pack(identities)
        self._unpacked: list[Any] | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        return self._identities()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._identities())

    def _identities(self) -> list[Any]:
        if self._unpacked is None:
            self._unpacked = _unpack(self._packed)
        return self._unpacked


@dataclass(frozen=True)
class EncodedBatch:
    """A batch ready to go: its request body, and who is in it (to place CleverTap's refusals).

    Batches are encoded as they are formed: a batch waiting for a worker holds its bytes, a few
    times smaller than its records as dicts (docs/benchmarks.md, same section), which die young.
    """

    identities: PackedIdentities
    body: bytes
    tags: PackedIdentities | None = None  # what the caller attached to each item, for its outcome


def run_batches(
    batches: Iterator[Any],
    send: Callable[[Any], BatchResult],
    *,
    concurrency: int,
    on_interrupt: Callable[[], None],
) -> Iterator[BatchResult]:
    """Send batches with at most ``concurrency`` in flight; yield each outcome as it completes.

    Batches are yielded in completion order, each once. On a failure that retries did not fix,
    no further batch is sent, the batches in flight are finished and yielded, then the error is
    raised. When the caller is interrupted (a timeout, a kill), ``on_interrupt`` cuts the
    requests in flight.
    """
    # Twice the concurrency queued keeps every worker busy while the caller reads and maps
    # the next rows, and bounds memory to a few batches whatever the input size.
    window = 2 * concurrency
    failure: BaseException | None = None
    pending: set[Future[BatchResult | None]] = set()
    # Set by the first batch that fails (or when the caller stops reading): a worker that
    # picks up a queued batch after that does not send it. Cancelling the queued futures
    # from here alone comes too late: a free worker starts the next one at once.
    stopped = threading.Event()

    def send_unless_stopped(batch: Any) -> BatchResult | None:
        if stopped.is_set():
            return None
        try:
            return send(batch)
        except BaseException:
            stopped.set()
            raise

    with ThreadPoolExecutor(concurrency, thread_name_prefix="clevertap") as pool:
        try:
            while True:
                while failure is None and len(pending) < window:
                    batch = next(batches, None)
                    if batch is None:
                        break
                    pending.add(pool.submit(send_unless_stopped, batch))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    if future.cancelled():
                        continue
                    error = future.exception()
                    if error is None:
                        result = future.result()
                        if result is not None:  # None: never sent, the run had stopped
                            yield result
                    elif failure is None:
                        failure = error
                        for queued in pending:
                            queued.cancel()  # not started yet: never sent
        except BaseException:
            # Interrupted from outside: Airflow's execution timeout raises in the middle of
            # wait(), or the caller stopped reading. Cut the requests in flight (and their
            # retries) rather than let the pool's shutdown wait for them; stopped first, so
            # that a worker they free starts no queued batch.
            stopped.set()
            on_interrupt()
            raise
        finally:
            stopped.set()
            for queued in pending:
                queued.cancel()
    if failure is not None:
        raise failure
