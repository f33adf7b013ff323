"""The provider's own OpenLineage run facets, as the openlineage-python client declares facets.

Imports the OpenLineage client at the top: only ``lineage.py`` imports this module, and only
inside the methods the OpenLineage provider calls, so the provider stays optional. Each facet's
JSON schema is shipped beside this module (``facets/*.json``) and named by ``_get_schema``.
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_clevertap import __version__

# Where the facets' JSON schemas are published: the schema files of this package's source tree.
SCHEMA_BASE_URL = (
    "https://raw.githubusercontent.com/airflow-provider-clevertap/airflow-provider-clevertap/"
    f"v{__version__}/airflow_provider_clevertap/facets"
)


@attrs.define
class CleverTapSyncRunFacet(RunFacet):
    """What one CleverTap sync did: its action, the object kind, dry run or not, and its counts.

    ``counts`` holds every count of the operator's summary (``rows_read``, ``rows_accepted``, ...),
    whatever counts that summary has: a sync that counts more (unchanged rows, say) reports them too.
    """

    action: str
    objectKind: str  # noqa: N815 (OpenLineage facets name fields in camel case)
    dryRun: bool  # noqa: N815
    counts: dict[str, int]

    _additional_skip_redact: ClassVar[list[str]] = ["action", "objectKind", "dryRun", "counts"]

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_BASE_URL}/CleverTapSyncRunFacet.json#/$defs/CleverTapSyncRunFacet"


@attrs.define
class CleverTapFailedRowsRunFacet(RunFacet):
    """Failed rows (invalid, so not sent, or refused by CleverTap), and the warehouse table that lists them (if any)."""

    rowsFailed: int  # noqa: N815
    rowsInvalid: int  # noqa: N815
    rowsRefused: int  # noqa: N815
    failedRowsTable: str | None  # noqa: N815

    _additional_skip_redact: ClassVar[list[str]] = ["rowsFailed", "rowsInvalid", "rowsRefused", "failedRowsTable"]

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_BASE_URL}/CleverTapFailedRowsRunFacet.json#/$defs/CleverTapFailedRowsRunFacet"
