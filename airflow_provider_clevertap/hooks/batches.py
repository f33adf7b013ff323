"""Batches going out: items grouped into requests, encoded, sent by a bounded pool of workers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any

from airflow_provider_clevertap.responses import BatchResult


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of ``size`` items (the last one shorter), read lazily from ``items``."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(frozen=True)
class EncodedBatch:
    """A batch ready to go: its request body, and who is in it (to place CleverTap's refusals).

    Batches are encoded as they are formed: a batch waiting for a worker holds its bytes (about
    250 bytes a record), not a thousand records as dicts (about 1.5 KB each), and the records die
    young.
    """

    identities: list[Any]
    body: bytes


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
            # retries) rather than let the pool's shutdown wait for them.
            on_interrupt()
            raise
        finally:
            stopped.set()
            for queued in pending:
                queued.cancel()
    if failure is not None:
        raise failure
