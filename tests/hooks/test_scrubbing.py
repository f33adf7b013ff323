"""Scrubber: the connection's secrets out of text a server sent."""

from __future__ import annotations

from airflow_provider_clevertap.hooks.scrubbing import Scrubber


def test_each_secret_is_replaced_as_it_is_and_url_encoded():
    scrub = Scrubber(["pc!#secret", None, ""])

    assert scrub("got pc!#secret and pc%21%23secret") == "got *** and ***"
    assert scrub("nothing secret here") == "nothing secret here"


def test_a_secret_holding_another_is_replaced_whole():
    # The passcode as pasted (stray spaces) and as sent (stripped): neither leaves a piece behind.
    scrub = Scrubber(["abc123", " abc123 "])

    assert scrub("x[ abc123 ]y") == "x[***]y"
