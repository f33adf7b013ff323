"""CleverTap's regional API hosts: the one table every part of the provider reads."""

from __future__ import annotations

DEFAULT_REGION = "eu1"

REGION_HOSTS: dict[str, str] = {
    "eu1": "https://api.clevertap.com",
    "in1": "https://in1.api.clevertap.com",
    "sg1": "https://sg1.api.clevertap.com",
    "us1": "https://us1.api.clevertap.com",
    "aps3": "https://aps3.api.clevertap.com",
    "mec1": "https://mec1.api.clevertap.com",
    "sk1": "https://sk1.api.clevertap.com",
}


def base_url_for_region(region: str | None) -> str:
    """Return the API base URL of ``region`` (the default region when empty)."""
    key = str(region or DEFAULT_REGION).strip().lower()  # a JSON extra may hold a non-string
    try:
        return REGION_HOSTS[key]
    except KeyError:
        raise ValueError(f"Unknown CleverTap region {region!r}; valid regions are: {', '.join(REGION_HOSTS)}") from None
