"""The region table (one place for every part of the provider) against CleverTap's documented hosts.
How the hook uses it (and a Host overriding it) is tested in tests/hooks/test_clevertap.py."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.regions import DEFAULT_REGION, REGION_HOSTS, base_url_for_region

# CleverTap's region table, written down from the docs.
DOCUMENTED = {
    "eu1": "https://api.clevertap.com",
    "in1": "https://in1.api.clevertap.com",
    "sg1": "https://sg1.api.clevertap.com",
    "us1": "https://us1.api.clevertap.com",
    "aps3": "https://aps3.api.clevertap.com",
    "mec1": "https://mec1.api.clevertap.com",
    "sk1": "https://sk1.api.clevertap.com",
}


def test_the_table_matches_the_documented_hosts():
    assert REGION_HOSTS == DOCUMENTED
    assert DEFAULT_REGION == "eu1"


@pytest.mark.parametrize(("region", "url"), DOCUMENTED.items())
def test_each_region_maps_to_its_https_host(region, url):
    assert base_url_for_region(region) == url


@pytest.mark.parametrize("region", [None, ""])
def test_no_region_is_eu1(region):
    assert base_url_for_region(region) == "https://api.clevertap.com"


@pytest.mark.parametrize("region", ["eu2", "india", "api.clevertap.com", "in1.api.clevertap.com", 7])
def test_an_unknown_region_names_the_valid_ones(region):
    with pytest.raises(ValueError) as info:
        base_url_for_region(region)
    message = str(info.value)
    assert repr(region) in message
    assert all(name in message for name in DOCUMENTED)


def test_each_region_has_a_label_naming_where_it_is_and_its_code():
    from airflow_provider_clevertap.regions import REGION_LABELS

    assert set(REGION_LABELS) == set(DOCUMENTED)
    assert REGION_LABELS["eu1"] == "Europe (eu1)" and REGION_LABELS["in1"] == "India (in1)"
    assert all(label.endswith(f" ({code})") and len(label) > len(code) + 3 for code, label in REGION_LABELS.items())
