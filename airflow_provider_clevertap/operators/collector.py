"""The garbage collector's young generation, run less often while rows are synced.

A sync keeps a window of batches of records alive for a request's length: with the default
threshold the collector walks them again and again and promotes them to the oldest generation,
whose full collections then walk Airflow's whole heap. Every 50,000 allocations instead, records
die young; reference cycles are still collected, only later. A speed shortcut: what it buys is in
docs/benchmarks.md, "The speed shortcuts".
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young objects the garbage collector lets pile up during a sync, instead of 700.
SYNC_GC_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's threshold to ``SYNC_GC_THRESHOLD`` (never lower it) for the
    ``with`` block, and restore it however the block ends."""
    threshold = gc.get_threshold()
    if threshold[0] < SYNC_GC_THRESHOLD:
        gc.set_threshold(SYNC_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
