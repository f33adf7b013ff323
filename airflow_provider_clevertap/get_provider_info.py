# The provider-info dict Airflow reads through the ``apache_airflow_provider`` entry point.
# Kept in the shape of the in-tree providers' generated ``get_provider_info`` modules.

from __future__ import annotations

import re

from airflow_provider_clevertap import __version__
from airflow_provider_clevertap.regions import DEFAULT_REGION, REGION_HOSTS, REGION_LABELS

# Airflow 3.3.1 and 3.3.2: the connection list's Test button sends port 0 for a connection without
# a port, and the API server then refuses the test ("The host or port to test differs from the
# stored connection", apache/airflow PR #73298 fixes it). A stored port of 0 matches what the
# button sends, and the hook ignores a port of 0: on those versions the form shows Port and asks
# for 0, with no placeholder (a grey "0" looked filled in). The form has no default values for its
# standard fields, so nothing can store the 0 for the user.
_TEST_BUTTON_SENDS_PORT_0 = ((3, 3, 1), (3, 3, 2))


def needs_port_0_for_test_button(airflow_version: str | None = None) -> bool:
    """Whether this Airflow's Test button only works for a connection stored with port 0."""
    if airflow_version is None:
        import airflow

        airflow_version = str(airflow.__version__)
    release = re.match(r"(\d+)\.(\d+)\.(\d+)", airflow_version)
    return release is not None and tuple(map(int, release.groups())) in _TEST_BUTTON_SENDS_PORT_0


def _field_behaviour() -> dict[str, object]:
    relabeling = {"login": "Account ID", "password": "Passcode"}
    placeholders = {
        "login": "e.g. W9R-486-4W5Z",
        "password": "the account's Passcode (Settings > Passcode)",
        "host": "empty: the Region's host (Extra Fields)",
        "extra": '{"region": "eu1"}',
    }
    hidden = ["schema", "port"]
    if needs_port_0_for_test_button():
        hidden = ["schema"]
        relabeling["port"] = "Port: type 0 (the Test button of Airflow 3.3.1 and 3.3.2 needs it)"
    return {"hidden-fields": hidden, "relabeling": relabeling, "placeholders": placeholders}


def get_provider_info():
    return {
        "package-name": "airflow-provider-clevertap",
        "name": "CleverTap",
        "description": (
            "Sync staged data-warehouse rows into `CleverTap <https://clevertap.com/>`__ user profiles and events."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "CleverTap",
                "external-doc-url": "https://developer.clevertap.com/docs/api-overview",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "CleverTap",
                "python-modules": ["airflow_provider_clevertap.hooks.clevertap"],
            }
        ],
        "operators": [
            {
                "integration-name": "CleverTap",
                "python-modules": [
                    "airflow_provider_clevertap.operators.user_upload",
                    "airflow_provider_clevertap.operators.user_delete",
                    "airflow_provider_clevertap.operators.event_upload",
                ],
            }
        ],
        "asset-uris": [
            {"schemes": ["clevertap"], "handler": "airflow_provider_clevertap.lineage.sanitize_uri"},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_clevertap.hooks.clevertap.CleverTapHook",
                "hook-name": "CleverTap",
                "connection-type": "clevertap",
                "ui-field-behaviour": _field_behaviour(),
                "conn-fields": {
                    "region": {
                        "label": "Region",
                        "description": (
                            "Your CleverTap account's region (Settings > Project). Leave Host empty to use the "
                            "region's API host; a Host (an administrator's proxy, or the local emulator such as "
                            "http://127.0.0.1:8765) overrides the region."
                        ),
                        "schema": {
                            "type": ["string", "null"],
                            "enum": list(REGION_HOSTS),
                            "values_display": REGION_LABELS,
                            "default": DEFAULT_REGION,
                        },
                    }
                },
            }
        ],
    }
