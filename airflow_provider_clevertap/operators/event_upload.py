"""CleverTapEventUploadOperator: send warehouse rows to CleverTap as events, each event id once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_clevertap.event_records import EventMapper, check_event_naming
from airflow_provider_clevertap.operators.record_upload import CleverTapRecordUploadOperator
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.results import SyncReport

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

# Bumped when the fingerprinted bytes change meaning. Events are matched on their id alone, so the
# fingerprint only tells what was sent; it never decides a resend.
_FINGERPRINT_VERSION = 1


class CleverTapEventUploadOperator(CleverTapRecordUploadOperator):
    """
    Send CleverTap events, one per row of a SQL query or a list.

    Each row becomes ``{"type": "event", "identity": ..., "ts": ..., "evtName": ...,
    "evtData": {...}}``: the identity column becomes ``identity`` (or ``objectId``), the ts column
    ``ts``, the event name is fixed or read from a column, and the other selected columns become
    event properties (nulls are left out). A property ``Items`` (a list of objects, or its JSON
    text) is the items of a ``Charged`` event. Rows CleverTap could not store are reported
    invalid and not sent; rows CleverTap refuses are reported with its code. Returns (and pushes
    to XCom) the upload's summary, ``rows_maybe_duplicated`` included.

    Events are not upserts. With ``event_id_column``, the state table records each event id
    CleverTap accepted and later runs (re-runs, overlapping backfills) skip them
    (``rows_unchanged``). Without it, every row is sent on every run. Either way a batch re-sent
    after an ambiguous failure (a read timeout, a connection dropped after the request went out,
    a 500, 502 or 504 answer) may be stored twice by CleverTap: its rows are counted in
    ``rows_maybe_duplicated`` and the log says so.

    :param clevertap_conn_id: the ``clevertap`` connection (Account ID, Passcode, region).
    :param source_conn_id: an Airflow SQL connection (any DbApiHook) to read rows from.
    :param sql: the query returning one row per event (templated; ``.sql`` files too).
    :param parameters: parameters of the query (templated).
    :param rows: instead of ``source_conn_id`` and ``sql``: a list of mappings (templated).
    :param identity_column: the column holding the identity of the user the event belongs to.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
    :param event_name: the name of every event (for example ``Charged``); or
    :param event_name_column: the column holding each row's event name. Exactly one of the two.
    :param ts_column: the column holding the time of the event (datetime, ISO-8601 string or
        epoch seconds); required, and a null is an invalid row.
    :param event_id_column: the column holding each event's id, unique per event: each id is
        sent until CleverTap accepts it, then never again by this sync (a null id is an invalid
        row). Needs ``sql`` and ``source_conn_id``: the state lives on the source connection.
    :param property_columns: None for every column not used otherwise (the event id column
        stays an event property); a list of columns; or a mapping of column to property name.
    :param convert_timestamps: convert datetimes, dates and ISO-8601 strings (at most
        millisecond precision) in ``evtData`` values to CleverTap timestamps.
    :param timestamp_format: ``unix`` (epoch seconds, a number) or ``clevertap_date``
        (``"$D_<seconds>"``, stored by CleverTap as a date).
    :param batch_size: events per request, at most 1000.
    :param max_concurrency: requests in flight at once, at most 15: CleverTap's limit per
        account, shared with profile uploads running at the same time.
    :param max_failed_ratio: share of rows that may be invalid or refused before the task
        fails (without Airflow retries), after all rows were processed.
    :param failed_rows_table: a table of the source connection that receives one row per
        invalid or refused row (created if missing).
    :param failed_rows_retention_days: days of ``failed_rows_table`` rows kept: each run first
        deletes older ones (default 30; None keeps every row).
    :param state_table: the ``[schema.]table`` on the source connection holding the accepted
        event ids (created if missing; templated). Used only with ``event_id_column``.
    :param sync_id: the sync's name in the state table (templated); by default
        ``<dag_id>.<task_id>``. Set it to keep the state when the DAG or task is renamed.
    :param full_refresh: forget the accepted ids of the rows the query returns and send them
        all again (templated). CleverTap then holds those events twice: meant for a CleverTap
        project that lost them.
    :param dry_run: send with ``dryRun=1``: CleverTap validates and stores nothing, and no
        state is written; ``state_table`` and ``failed_rows_table`` are only checked (read),
        neither pruned nor written.
    """

    action = "event upload"
    object_kind = "events"
    match_key_only = True
    state_key_parameter = "event_id_column"
    template_fields: Sequence[str] = CleverTapRecordUploadOperator.template_fields

    def __init__(
        self,
        *,
        ts_column: str,
        event_name: str | None = None,
        event_name_column: str | None = None,
        event_id_column: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(ts_column=ts_column, **kwargs)
        check_event_naming(event_name, event_name_column)
        self.event_name = event_name
        self.event_name_column = event_name_column
        self.event_id_column = event_id_column
        if event_id_column is not None:
            self._needs_source("event_id_column")

    # -- what the record upload asks -------------------------------------------------------------

    def stateful(self) -> bool:
        return self.event_id_column is not None

    def state_key_column(self) -> str:
        assert self.event_id_column is not None, "only a sync with event ids keeps a state"
        return self.event_id_column

    def describe_sync(self) -> str:
        return f"once-per-event-id ({self.event_id_column})"

    def make_record_mapper(self, columns: list[str]) -> EventMapper:
        return EventMapper(
            columns,
            event_name=self.event_name,
            event_name_column=self.event_name_column,
            event_id_column=self.event_id_column,
            **self._mapper_arguments(),
        )

    def mapping_options(self) -> list[Any]:
        return [
            _FINGERPRINT_VERSION,
            "events",
            self.identity_type,
            self.event_name,
            self.event_name_column,
            self._selection(),
            self.ts_column,
            self.convert_timestamps,
            self.timestamp_format,
        ]

    def send(self, hook: CleverTapHook, items: Iterator[Any]) -> Iterator[BatchResult]:
        results = super().send(hook, items)
        if self._state is None:  # no event ids to name the refused events by
            return results
        return (_naming_events(result) for result in results)

    def execute(self, context: Context) -> dict[str, Any]:
        if self.event_id_column is None:
            self.log.info("CleverTap event upload: no event_id_column, so every row is sent, as on every run")
        return super().execute(context)

    def after_sync(self, report: SyncReport) -> None:
        if report.rows_maybe_duplicated:
            self.log.warning(
                "CleverTap event upload: %d events were in batches re-sent after an ambiguous failure "
                "(no answer came to a request that had gone out, or a 500, 502 or 504): CleverTap may hold them twice",
                report.rows_maybe_duplicated,
            )


def _naming_events(result: BatchResult) -> BatchResult:
    """``result`` with each refusal CleverTap placed naming its event, by the id its item's tag
    carries (``ChangeFilter``: the key as queried)."""
    tags = result.tags
    if not result.refused or tags is None:
        return result
    refused = [
        refusal
        if refusal.position is None
        else replace(refusal, error=f"event {tags[refusal.position][4]!r}: {refusal.error}")
        for refusal in result.refused
    ]
    return replace(result, refused=refused)
