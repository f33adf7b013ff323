"""The event ids a run has seen, kept two ways: ``python -m benchmarks.seen_ids``.

    python -m benchmarks.seen_ids              # 1M ids
    python -m benchmarks.seen_ids --ids 200000

``seen_ids.SeenIds`` (what the event mapper uses) against a Python set of the ids' hashes: the
memory each holds once every id is noted and its peak while growing (``tracemalloc``), and the
CPU time to note every id (measured apart: ``tracemalloc`` slows allocation).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

from airflow_provider_clevertap.seen_ids import SeenIds


def with_seen_ids(ids: list[str]) -> object:
    seen = SeenIds()
    for text in ids:
        seen.add(text)
    return seen


def with_a_set(ids: list[str]) -> object:
    seen: set[int] = set()
    for text in ids:
        key = hash(text)
        if key not in seen:
            seen.add(key)
    return seen


def measure(note: Callable[[list[str]], object], ids: list[str]) -> tuple[float, float, float]:
    """(MB held, MB peak, seconds of CPU) of noting ``ids``."""
    gc.collect()
    tracemalloc.start()
    kept = note(ids)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    gc.collect()
    started = time.process_time()
    note(ids)
    return held / 1e6, peak / 1e6, time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seen_ids", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    ids = [f"order-{n:09d}" for n in range(args.ids)]
    for name, note in (("SeenIds", with_seen_ids), ("set of the ids' hashes", with_a_set)):
        held, peak, seconds = measure(note, ids)
        print(f"{name:<24} {held:7.1f} MB held {peak:7.1f} MB peak {seconds:6.2f} s CPU for {args.ids} ids")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
