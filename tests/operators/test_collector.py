"""``fewer_collections`` (operators/collector.py) changes when the garbage collector runs during a sync,
never what it frees: the threshold is raised only while rows are synced, restored however the sync
ends, and a reference cycle made meanwhile is still collected by the collector's own runs (what it
buys: docs/benchmarks.md, "The speed shortcuts")."""

from __future__ import annotations

import gc
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.operators.collector import SYNC_GC_THRESHOLD, fewer_collections

thresholds = st.tuples(st.integers(1, 4 * SYNC_GC_THRESHOLD), st.integers(1, 50), st.integers(1, 50))


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@settings(max_examples=200)
@given(thresholds, st.booleans())
def test_the_threshold_is_raised_while_syncing_and_restored_after(threshold, fails):
    saved = gc.get_threshold()
    gc.set_threshold(*threshold)
    try:
        try:
            with fewer_collections():
                assert gc.get_threshold() == (max(threshold[0], SYNC_GC_THRESHOLD), *threshold[1:])
                if fails:
                    raise RuntimeError("the sync failed")
        except RuntimeError:
            pass
        assert gc.get_threshold() == threshold
    finally:
        gc.set_threshold(*saved)


def test_a_cycle_made_while_syncing_is_collected_without_an_explicit_collection():
    with fewer_collections():
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        kept = []
        # More young objects than the raised threshold: the collector runs by itself.
        for _ in range(4 * SYNC_GC_THRESHOLD):
            kept.append([])
            if gone() is None:
                break
    assert gone() is None
