"""Command line: run an emulator until interrupted.

``python -m airflow_provider_clevertap.emulator --port 0 --latency 0.05 --throttle-every 10``

It prints one line once it answers requests, and flushes it, so that a parent process can read
the URL (and the port, with ``--port 0``) from it::

    CleverTap emulator ready at http://127.0.0.1:8765  AIRFLOW_CONN_CLEVERTAP_DEFAULT='{...}'

It stops cleanly on SIGINT or SIGTERM. ``--db`` is written as profiles change, so the file is
complete however the process ends.

In this process (not in an emulator embedded in a test, whose garbage collector is the test's),
what survives a second is frozen out of the garbage collector's view: see :func:`_freeze_survivors`.
"""

from __future__ import annotations

import argparse
import gc
import shlex
import signal
import threading
from collections.abc import Sequence

from airflow_provider_clevertap.emulator.faults import DEFAULT_CONCURRENCY_LIMIT, EmulatorFaults
from airflow_provider_clevertap.emulator.server import CleverTapEmulator


def _request_status(text: str) -> tuple[int, int]:
    number, _, status = text.partition("=")
    try:
        return int(number), int(status)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected REQUEST=STATUS such as 3=400, got {text!r}") from None


# How often survivors are frozen: a full collection never sees more than this much new memory.
_FREEZE_EVERY = 1.0


def _freeze_survivors(stopping: threading.Event) -> None:
    """Move every object alive now out of the collector's view, once a second until stopping.

    Stored profiles live until deleted and form no reference cycles, but CPython's full collection
    walks every tracked object each time the heap has grown by a quarter, answering nothing
    meanwhile. Frozen objects are still freed when their last reference goes (a deleted profile
    is); only a cycle among them that dies later is kept, so the young generations are collected
    first. Why, and what it buys: docs/decisions/27-emulator-freezes-survivors.md.
    """
    gc.freeze()  # what start-up imported
    while not stopping.wait(_FREEZE_EVERY):
        gc.collect(1)
        gc.freeze()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_clevertap.emulator",
        description="A local CleverTap API emulator, with fault injection, for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--account-id", default="TEST-ACCOUNT", help="expected account id (default: %(default)s)")
    parser.add_argument("--passcode", default="test-passcode", help="expected passcode (default: %(default)s)")
    parser.add_argument("--db", metavar="PATH", help="SQLite file to keep profiles in (default: memory only)")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    faults.add_argument("--throttle-ratio", type=float, default=0.0, help="fraction of requests answered 429")
    faults.add_argument("--throttle-every", type=int, default=0, metavar="N", help="answer every Nth request 429")
    faults.add_argument("--retry-after", type=int, metavar="SECONDS", help="Retry-After of injected 429s")
    faults.add_argument("--error-ratio", type=float, default=0.0, help="fraction of requests answered 5xx")
    faults.add_argument(
        "--error-status", type=int, default=503, choices=(500, 503), help="status of those (default: %(default)s)"
    )
    faults.add_argument("--drop-ratio", type=float, default=0.0, help="fraction of connections closed with no answer")
    faults.add_argument("--slow-ratio", type=float, default=0.0, help="fraction of requests answered late")
    faults.add_argument("--slow-seconds", type=float, default=0.0, help="how late those are answered")
    faults.add_argument(
        "--status-for-request",
        type=_request_status,
        action="append",
        default=[],
        metavar="N=STATUS",
        help="answer API request number N (from 1) with STATUS; repeatable",
    )
    faults.add_argument(
        "--concurrency-limit",
        type=int,
        default=DEFAULT_CONCURRENCY_LIMIT,
        help="requests in flight above this answer 429 (default: %(default)s)",
    )
    faults.add_argument("--seed", type=int, help="random seed, to replay a run with faults")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        faults = EmulatorFaults(
            latency=args.latency,
            throttle_ratio=args.throttle_ratio,
            throttle_every=args.throttle_every,
            retry_after=args.retry_after,
            error_ratio=args.error_ratio,
            error_status=args.error_status,
            drop_ratio=args.drop_ratio,
            slow_ratio=args.slow_ratio,
            slow_seconds=args.slow_seconds,
            status_for_request=dict(args.status_for_request),
            concurrency_limit=args.concurrency_limit,
            seed=args.seed,
        )
    except ValueError as error:
        build_parser().error(str(error))
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    emulator = CleverTapEmulator(
        account_id=args.account_id,
        passcode=args.passcode,
        faults=faults,
        host=args.host,
        port=args.port,
        db_path=args.db,
    )
    threading.Thread(target=_freeze_survivors, args=(stopping,), name="freeze-survivors", daemon=True).start()
    with emulator:
        print(
            f"CleverTap emulator ready at {emulator.url}  "
            f"AIRFLOW_CONN_CLEVERTAP_DEFAULT={shlex.quote(emulator.connection_json())}",
            flush=True,
        )
        stopping.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
