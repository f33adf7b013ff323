"""CleverTap's regions: the one table every part of the provider reads (hosts, form labels)."""

from __future__ import annotations

DEFAULT_REGION = "eu1"

# code: (where the region is, its API host)
_REGIONS: dict[str, tuple[str, str]] = {
    "eu1": ("Europe", "https://api.clevertap.com"),
    "in1": ("India", "https://in1.api.clevertap.com"),
    "sg1": ("Singapore", "https://sg1.api.clevertap.com"),
    "us1": ("United States", "https://us1.api.clevertap.com"),
    "aps3": ("Indonesia", "https://aps3.api.clevertap.com"),
    "mec1": ("Middle East, UAE", "https://mec1.api.clevertap.com"),
    "sk1": ("South Korea", "https://sk1.api.clevertap.com"),
}

REGION_HOSTS: dict[str, str] = {code: host for code, (_, host) in _REGIONS.items()}
# What the connection form shows for each code it stores: "Europe (eu1)".
REGION_LABELS: dict[str, str] = {code: f"{name} ({code})" for code, (name, _) in _REGIONS.items()}


def base_url_for_region(region: str | None) -> str:
    """Return the API base URL of ``region`` (the default region when empty)."""
    key = str(region or DEFAULT_REGION).strip().lower()  # a JSON extra may hold a non-string
    try:
        return REGION_HOSTS[key]
    except KeyError:
        raise ValueError(f"Unknown CleverTap region {region!r}; valid regions are: {', '.join(REGION_HOSTS)}") from None
