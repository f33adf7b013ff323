"""Batches going out: who is in a batch is kept packed, and comes back exactly as it went in."""

from __future__ import annotations

import sys

from airflow_provider_clevertap.hooks.batches import PackedIdentities

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
