"""Lineage of a CleverTap sync: its OpenLineage facets, and the Airflow Asset it may update.

OpenLineage (when ``apache-airflow-providers-openlineage`` is installed; imported only inside
the methods it calls):

- output: one dataset per account and object kind, namespace ``clevertap://<region>`` (or
  ``clevertap://<host[:port]>`` when the connection's Host overrides the region), name
  ``<account id>/<kind>`` (``profiles``, ``events``), with a schema facet of the CleverTap fields
  written when the mapper knows them. Never the passcode;
- inputs: the tables the query reads, found as Airflow's SQL operators find them (the OpenLineage
  SQL parser with the source hook's database info); none for ``rows=``;
- run facets: ``clevertap_sync`` with the summary's counts and, when rows failed,
  ``clevertap_failed_rows`` naming the failed-rows table (then an output dataset too).

Assets: ``clevertap_asset(account_id, kind)`` is ``clevertap://<account id>/<kind>``, declared in
an operator's ``outlets`` without any connection lookup at parse time; the operator checks it
against its connection before sending. Every Asset outlet's event (a ``clevertap://`` one or
any other, such as the example DAGs' account-free ``Asset("clevertap_default_profiles")``) gets
the counts in its extra.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import SplitResult, urlsplit

from airflow.providers.common.compat.sdk import Asset, BaseHook

from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.hooks.connection_settings import base_url, connection_extra
from airflow_provider_clevertap.regions import REGION_HOSTS
from airflow_provider_clevertap.sources import get_sql_hook

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import BaseOperator as _Operator
    from openlineage.client.event_v2 import Dataset

    from airflow_provider_clevertap.results import SyncReport
else:
    _Operator = object

SCHEME = "clevertap"
OBJECT_KINDS = ("profiles", "events")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_REGION_OF_URL = {url: region for region, url in REGION_HOSTS.items()}

# A field CleverTap records carry, as its path: ("identity",), ("profileData", "Email").
FieldPath = tuple[str, ...]


def clevertap_asset(account_id: str, kind: str = "profiles", **asset_arguments: Any) -> Asset:
    """The Airflow Asset of a CleverTap account's profiles or events: ``clevertap://<account id>/<kind>``.

    Declare it in an operator's ``outlets``; DAGs scheduled on it run after each successful sync.
    No connection is looked up: Assets are made when the DAG file is parsed.

    :param account_id: the CleverTap Account ID (the connection's login).
    :param kind: ``profiles`` or ``events``.
    :param asset_arguments: passed on to ``Asset`` (``name``, ``group``, ``extra``...).
    """
    account = account_id.strip()
    if not _ACCOUNT_ID.fullmatch(account):
        raise ValueError(f"{account_id!r} is not a CleverTap Account ID (letters, digits, '-' and '_')")
    if kind not in OBJECT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OBJECT_KINDS)}, got {kind!r}")
    return Asset(uri=f"{SCHEME}://{account}/{kind}", **asset_arguments)


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's check of a ``clevertap://`` Asset URI (registered in the provider info)."""
    if not _ACCOUNT_ID.fullmatch(uri.netloc):
        raise ValueError("A clevertap:// Asset URI is clevertap://<account id>/<kind>: the account id is missing")
    if uri.path.strip("/") not in OBJECT_KINDS:
        raise ValueError(f"A clevertap:// Asset URI ends in one of {', '.join(OBJECT_KINDS)}, not {uri.path!r}")
    return uri._replace(path="/" + uri.path.strip("/"))


def _asset_target(uri: str) -> tuple[str, str] | None:
    """The (account id, kind) of a ``clevertap://`` URI; None for any other Asset."""
    parts = urlsplit(uri)
    return (parts.netloc, parts.path.strip("/")) if parts.scheme == SCHEME else None


def dataset_namespace(url: str) -> str:
    """The OpenLineage namespace of a CleverTap API URL: ``clevertap://eu1``, or its host for an override."""
    region = _REGION_OF_URL.get(url.rstrip("/"))
    return f"{SCHEME}://{region or urlsplit(url).netloc}"


def counts_of(summary: Mapping[str, Any]) -> dict[str, int]:
    """Every count of a sync summary, whichever counts it has (not booleans, seconds or samples)."""
    return {key: value for key, value in summary.items() if type(value) is int}


class CleverTapLineageMixin(_Operator):
    """OpenLineage facets and Asset events for the CleverTap operators.

    A subclass says which CleverTap objects it writes in ``object_kind``; ``execute`` calls
    ``start_lineage``, ``note_mapper``, ``note_failed_rows_written`` and ``record_summary`` as
    the sync goes.
    """

    object_kind: ClassVar[str] = "profiles"
    action: ClassVar[str]
    clevertap_conn_id: str
    source_conn_id: str | None
    sql: str | None
    failed_rows_table: str | None
    # The operators' public ``dry_run`` argument shadows BaseOperator.dry_run(), a method Airflow's
    # own code never calls on a task instance; the argument name is the documented contract.
    dry_run: bool  # type: ignore[assignment]
    _lineage_report: SyncReport | None = None
    _lineage_summary: Mapping[str, Any] | None = None
    _lineage_fields: Sequence[FieldPath] | None = None
    _lineage_failed_written = False

    # -- what execute tells -------------------------------------------------------------------

    def start_lineage(self, report: SyncReport) -> None:
        """Keep the sync's report; refuse, before anything is sent, a CleverTap outlet of another account or kind."""
        self._lineage_report = report
        targets = {uri: target for uri in self._outlet_uris() if (target := _asset_target(uri)) is not None}
        if not targets:
            return
        _, account = self._clevertap_target()
        for uri, target in targets.items():
            if target != (account, self.object_kind):
                raise CleverTapConfigError(
                    f"Outlet {uri} is not what this task writes: connection {self.clevertap_conn_id!r} is account "
                    f"{account}, the task writes {self.object_kind} (use clevertap_asset({account!r}, "
                    f"{self.object_kind!r}))"
                )

    def note_mapper(self, mapper: Any) -> None:
        """Keep the CleverTap fields the mapper writes, when it can say (``output_fields()``)."""
        output_fields = getattr(mapper, "output_fields", None)
        self._lineage_fields = output_fields() if callable(output_fields) else None

    def note_failed_rows_written(self) -> None:
        self._lineage_failed_written = True

    def record_summary(self, context: Any, summary: Mapping[str, Any]) -> None:
        """Keep the summary for OpenLineage and put its counts in each Asset outlet's event."""
        self._lineage_summary = summary
        extra = {**counts_of(summary), "dry_run": bool(summary.get("dry_run"))}
        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(extra)

    def _outlet_uris(self) -> list[str]:
        return [outlet.uri for outlet in self.outlets if isinstance(outlet, Asset)]

    # -- OpenLineage ----------------------------------------------------------------------------

    def get_openlineage_facets_on_start(self) -> OperatorLineage | None:
        """The tables the query reads and the CleverTap dataset the task writes."""
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        lineage = self._query_lineage() or OperatorLineage()
        return OperatorLineage(
            inputs=lineage.inputs,
            outputs=[self._clevertap_dataset()],
            run_facets=lineage.run_facets,
            job_facets=lineage.job_facets,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """What the start reported, with the counts and, when rows failed, where they went."""
        lineage = self.get_openlineage_facets_on_start()
        report = self._lineage_report
        if lineage is None or report is None:
            return lineage
        from airflow_provider_clevertap.lineage_facets import CleverTapFailedRowsRunFacet, CleverTapSyncRunFacet

        summary = self._lineage_summary or report.summary()
        lineage.run_facets["clevertap_sync"] = CleverTapSyncRunFacet(
            action=self.action, objectKind=self.object_kind, dryRun=self.dry_run, counts=counts_of(summary)
        )
        if report.rows_failed:
            table = self.failed_rows_table if self._lineage_failed_written else None
            lineage.run_facets["clevertap_failed_rows"] = CleverTapFailedRowsRunFacet(
                rowsFailed=report.rows_failed,
                rowsInvalid=report.rows_invalid,
                rowsRefused=report.rows_refused,
                failedRowsTable=table,
            )
            if table:
                lineage.outputs.extend(self._failed_rows_datasets(table))
        return lineage

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """As on completion: the counts so far, and where the failed rows went."""
        return self.get_openlineage_facets_on_complete(task_instance)

    def _clevertap_target(self) -> tuple[str, str]:
        """The (OpenLineage namespace, account id) of the CleverTap connection: never the passcode."""
        connection = BaseHook.get_connection(self.clevertap_conn_id)
        region = connection_extra(connection, self.clevertap_conn_id).get("region")
        url = base_url(connection.host, connection.schema, connection.port, region)
        return dataset_namespace(url), (connection.login or "").strip()

    def _clevertap_dataset(self) -> Dataset:
        from openlineage.client.event_v2 import Dataset
        from openlineage.client.facet_v2 import schema_dataset

        namespace, account = self._clevertap_target()
        facets: dict[str, Any] = {}
        if self._lineage_fields:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=_schema_fields(self._lineage_fields))
        return Dataset(namespace=namespace, name=f"{account}/{self.object_kind}", facets=facets)

    def _query_lineage(self, sql: str | None = None) -> OperatorLineage | None:
        """OpenLineage's reading of ``sql`` (default: the query) on the source connection."""
        if not self.source_conn_id or not (sql or self.sql):
            return None
        try:
            from airflow.providers.openlineage.sqlparser import get_openlineage_facets_with_sql
        except ImportError:  # an OpenLineage provider older than this helper: no inputs
            return None
        hook = get_sql_hook(self.source_conn_id)
        return get_openlineage_facets_with_sql(
            hook=hook, sql=sql or self.sql or "", conn_id=self.source_conn_id, database=None
        )

    def _failed_rows_datasets(self, table: str) -> list[Dataset]:
        """The failed-rows table as the SQL parser names it (the statement is parsed, never run)."""
        lineage = self._query_lineage(f"INSERT INTO {table} (identity) VALUES ('')")
        return list(lineage.outputs) if lineage is not None else []


def _schema_fields(paths: Sequence[FieldPath]) -> list[Any]:
    """Schema facet fields of field paths: ``("profileData", "Email")`` nests Email in profileData."""
    from openlineage.client.facet_v2 import schema_dataset

    nested: dict[str, list[FieldPath]] = {}
    for path in paths:
        nested.setdefault(path[0], [])
        if len(path) > 1:
            nested[path[0]].append(path[1:])
    return [
        schema_dataset.SchemaDatasetFacetFields(name=name, fields=_schema_fields(children))
        for name, children in nested.items()
    ]
