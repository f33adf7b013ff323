"""The CleverTap Asset URI (as Airflow itself checks it) and the OpenLineage namespace of a connection."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_provider_clevertap.lineage import clevertap_asset, counts_of, dataset_namespace


def test_clevertap_asset_names_the_account_and_the_kind():
    assert clevertap_asset(" W9R-486-4W5Z ").uri == "clevertap://W9R-486-4W5Z/profiles"
    assert clevertap_asset("W9R-486-4W5Z", "events", name="app events").name == "app events"


@pytest.mark.parametrize(
    ("account_id", "kind", "reason"),
    [("", "profiles", "not a CleverTap Account ID"), ("a/b", "profiles", "not a CleverTap"), ("ACC", "users", "kind")],
)
def test_clevertap_asset_refuses_what_is_no_account_or_kind(account_id, kind, reason):
    with pytest.raises(ValueError, match=reason):
        clevertap_asset(account_id, kind)


def test_airflow_checks_clevertap_uris_with_the_providers_handler():
    # Registered in the provider info ("asset-uris"): Airflow calls it for every clevertap:// Asset.
    assert Asset("clevertap://ACC-1/profiles/").uri == "clevertap://ACC-1/profiles"
    with pytest.raises(ValueError, match="ends in one of profiles, events"):
        Asset("clevertap://ACC-1/contacts")
    with pytest.raises(ValueError, match="account id is missing"):
        Asset("clevertap:///profiles")


@pytest.mark.parametrize(
    ("url", "namespace"),
    [
        ("https://api.clevertap.com", "clevertap://eu1"),
        ("https://in1.api.clevertap.com/", "clevertap://in1"),
        ("http://127.0.0.1:8765", "clevertap://127.0.0.1:8765"),
    ],
)
def test_the_openlineage_namespace_is_the_region_or_the_overriding_host(url, namespace):
    assert dataset_namespace(url) == namespace


def test_the_counts_are_every_count_the_summary_has():
    summary = {"rows_read": 3, "rows_unchanged": 1, "dry_run": False, "seconds": 0.5, "failed_sample": []}
    assert counts_of(summary) == {"rows_read": 3, "rows_unchanged": 1}
