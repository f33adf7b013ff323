"""The event ids a run has seen: each text is new once, however large the table grows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_clevertap.seen_ids import SeenIds


def test_each_text_is_new_once_across_many_growths():
    seen = SeenIds()
    texts = [f"o-{n}" for n in range(50_000)]
    assert all(seen.add(text) for text in texts)
    assert not any(seen.add(text) for text in texts)
    assert seen.add("") and not seen.add("")  # hash("") is 0, the empty slot's mark


@given(st.lists(st.text(max_size=8), max_size=300))
def test_it_answers_as_a_set_does(texts):
    seen, reference = SeenIds(), set()
    for text in texts:
        assert seen.add(text) == (text not in reference)
        reference.add(text)
