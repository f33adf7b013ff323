"""``PackedIdentities`` gives what the list of identities it packs gives, for any JSON values.

A batch keeps its identities (and an encoded upload's tags) packed into one JSON string while its
request is out (what it buys: docs/benchmarks.md, "The speed shortcuts"); read back, they must be
the very values packed, in order.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_clevertap.hooks.batches import PackedIdentities

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),  # what JSON carries as an integer
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8
)


@settings(max_examples=300)
@given(st.lists(json_values, max_size=40), st.data())
def test_packed_identities_read_back_as_the_list_packed(identities, data):
    packed = PackedIdentities(identities)

    assert len(packed) == len(identities)
    assert list(packed) == identities
    if identities:
        index = data.draw(st.integers(-len(identities), len(identities) - 1), label="index")
        assert packed[index] == identities[index]
    start, stop = data.draw(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), label="slice")
    assert packed[start:stop] == identities[start:stop]
