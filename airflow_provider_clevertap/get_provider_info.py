# The provider-info dict Airflow reads through the ``apache_airflow_provider`` entry point.
# Kept in the shape of the in-tree providers' generated ``get_provider_info`` modules.

from __future__ import annotations

from airflow_provider_clevertap import __version__
from airflow_provider_clevertap.regions import DEFAULT_REGION, REGION_HOSTS, REGION_LABELS

# Airflow's form shows a provider's fields in a collapsed section titled "Extra Fields"; from 3.2
# on, a field's schema may name its own section: the Region's title says what it holds.
REGION_SECTION = "CleverTap region"


def _field_behaviour() -> dict[str, object]:
    relabeling = {"login": "Account ID", "password": "Passcode"}
    placeholders = {
        "login": "e.g. W9R-486-4W5Z",
        "password": "the account's Passcode (Settings > Passcode)",
        "host": "empty: the Region's host (below)",
        "extra": '{"region": "eu1"}',
    }
    return {"hidden-fields": ["schema", "port"], "relabeling": relabeling, "placeholders": placeholders}


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
                            "section": REGION_SECTION,
                        },
                    }
                },
            }
        ],
    }
