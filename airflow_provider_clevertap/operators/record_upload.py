"""CleverTapRecordUploadOperator: what the profile and the event upload share, their state above all.

Both map rows to records sent to ``/1/upload``; a stateful one keeps, in a table of the source
warehouse, what CleverTap accepted, and sends only what it does not hold yet. The two differ only
in the mapper they build, the column the state is keyed on, the mapping options that go into
the fingerprint, and what "unchanged" means: the same fingerprint (a profile CleverTap holds as it
is) or a key accepted once (an event, never to be sent twice).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_clevertap.exceptions import CleverTapConfigError
from airflow_provider_clevertap.flags import read_flag
from airflow_provider_clevertap.hooks.clevertap import MAX_UPLOAD_BATCH, CleverTapHook
from airflow_provider_clevertap.operators.base import CleverTapSyncOperator
from airflow_provider_clevertap.operators.items import RowMapper
from airflow_provider_clevertap.properties import UPLOAD_ID_KEYS, PropertyColumns, check_mapping_choices, find_column
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.sources import RowSource
from airflow_provider_clevertap.state import DEFAULT_STATE_TABLE, SyncState, default_sync_id
from airflow_provider_clevertap.state.catalog import check_for_dry_run
from airflow_provider_clevertap.state.changes import ChangeFilter, fingerprint_key
from airflow_provider_clevertap.state.dialects import check_proven
from airflow_provider_clevertap.state.recorder import Recorder, open_recorder
from airflow_provider_clevertap.state.table import describe
from airflow_provider_clevertap.timestamps import TimestampFormat

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class CleverTapRecordUploadOperator(CleverTapSyncOperator):
    """Base of the upload operators: rows become records sent to ``/1/upload``, with an optional state.

    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
    :param ts_column: the column whose value becomes each record's ``ts``.
    :param property_columns: None for every other column; a list of columns; or a mapping of
        column to CleverTap property name.
    :param convert_timestamps: convert datetimes, dates and ISO-8601 strings in property values.
    :param timestamp_format: ``unix`` or ``clevertap_date``.
    :param batch_size: records per request, at most 1000.
    :param max_concurrency: requests in flight at once, at most 15 (CleverTap's account limit).
    :param state_table: the ``[schema.]table`` on the source connection holding the state.
    :param sync_id: the sync's name in the state table; by default ``<dag_id>.<task_id>``.
    :param full_refresh: send every row and rebuild the sync's state from what CleverTap accepts.
    """

    action = "upload"
    max_batch_size = MAX_UPLOAD_BATCH
    # An event is sent once: a key the state holds is unchanged whatever its fingerprint.
    match_key_only: ClassVar[bool] = False
    # The parameter naming the column the state is keyed on (``state_key_column``), for errors.
    state_key_parameter: ClassVar[str]
    template_fields: Sequence[str] = (*CleverTapSyncOperator.template_fields, "state_table", "sync_id", "full_refresh")

    def __init__(
        self,
        *,
        identity_type: Literal["identity", "clevertap_id"] = "identity",
        ts_column: str | None = None,
        property_columns: PropertyColumns = None,
        convert_timestamps: bool = True,
        timestamp_format: TimestampFormat = "unix",
        batch_size: int = MAX_UPLOAD_BATCH,
        max_concurrency: int = 10,
        state_table: str = DEFAULT_STATE_TABLE,
        sync_id: str | None = None,
        full_refresh: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, max_concurrency=max_concurrency, **kwargs)
        check_mapping_choices(identity_type, timestamp_format)  # at DAG parsing, before any row
        self.identity_type = identity_type
        self.ts_column = ts_column
        self.property_columns = property_columns
        self.convert_timestamps = convert_timestamps
        self.timestamp_format = timestamp_format
        self.state_table = state_table
        self.sync_id = sync_id
        self.full_refresh = full_refresh
        self._state: SyncState | None = None
        self._state_exists = True  # a dry run checks: it creates nothing
        self._resend_all = False
        self._fingerprint_key = b""
        self._shape: list[list[str]] | None = None  # the query's columns, described once a run

    # -- what subclasses define ------------------------------------------------------------------

    def stateful(self) -> bool:
        """Whether this run keeps a state (checked in execute, once templates are rendered)."""
        raise NotImplementedError

    def state_key_column(self) -> str:
        """The column of the query whose text keys the state."""
        raise NotImplementedError

    def make_record_mapper(self, columns: list[str]) -> RowMapper:
        """What turns a row into a record dict."""
        raise NotImplementedError

    def mapping_options(self) -> list[Any]:
        """Everything besides a row's values that decides the record CleverTap stores."""
        raise NotImplementedError

    def describe_sync(self) -> str:
        """What kind of stateful sync this is, for the log."""
        raise NotImplementedError

    def _needs_source(self, what: str) -> None:
        if self.sql is None or not self.source_conn_id:
            raise ValueError(f"{what} needs sql and source_conn_id: the state lives on the source connection")

    def _mapper_arguments(self) -> dict[str, Any]:
        """The arguments of the record mapper that both uploads take, as they were given."""
        return {
            "identity_column": self.identity_column,
            "identity_type": self.identity_type,
            "ts_column": self.ts_column,
            "property_columns": self.property_columns,
            "convert_timestamps": self.convert_timestamps,
            "timestamp_format": self.timestamp_format,
        }

    def _selection(self) -> list[Any] | None:
        """``property_columns`` as JSON for the fingerprint key: a mapping's order counts."""
        columns = self.property_columns
        selection = list(columns.items()) if isinstance(columns, Mapping) else columns
        return None if selection is None else list(selection)

    # -- the state --------------------------------------------------------------------------------

    def start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Recorder | None:
        self._state = None
        if not self.stateful():
            return None
        self._resend_all = read_flag(self.full_refresh, "full_refresh")
        sync_id = self.sync_id or default_sync_id(
            self.dag_id, self.task_id, context.get("ti"), getattr(self, "map_index_template", None)
        )
        check_proven(source_hook)
        # The query's shape (names and types) is part of every fingerprint and row hash: a renamed
        # alias or a cast changes what CleverTap stores though no value's text changed.
        shape = describe(source_hook, self.sql, self.parameters)  # type: ignore[arg-type]  # stateful() checked sql
        self._fingerprint_key = fingerprint_key([*self.mapping_options(), shape])
        self._shape = shape
        key_column = self._state_key_as_returned([name for name, _ in shape])
        state = SyncState(source_hook, self.state_table, sync_id, key_column)
        report.stateful = True
        self._state = state
        self.log.info(
            "CleverTap %s: %s sync %s, state in %s%s",
            self.action,
            self.describe_sync(),
            state.sync_id,
            state.table,
            " (full refresh: every row is sent, the state rebuilt)" if self._resend_all else "",
        )
        if self.dry_run:
            # Writes nothing, not even the table; with no table yet, every row would be sent. A
            # table a real run could neither read nor create fails here, before the first request.
            self._state_exists = check_for_dry_run(
                source_hook, state.table, "state_table", self.action, self.source_conn_id
            )
            self._resend_all = self._resend_all or not self._state_exists
            return None
        state.create()
        state.begin()
        if self._resend_all:
            state.reset(self.sql, self.parameters)  # type: ignore[arg-type]  # stateful() checked sql
        return open_recorder(state, str(context.get("run_id")), self.log)

    def _state_key_as_returned(self, columns: list[str]) -> str:
        """The query's column the state is keyed on (``find_column``'s rule); fail for good, before
        the state is touched, when there is none: the warehouse's own error would name a column of
        our SQL."""
        try:
            return columns[find_column(columns, self.state_key_column(), self.state_key_parameter)]
        except ValueError as error:
            raise CleverTapConfigError(f"CleverTap {self.action}: {error}") from None

    def read_source(self, source_hook: Any) -> AbstractContextManager[RowSource]:
        if self._state is None:
            return super().read_source(source_hook)
        return self._state.read(
            self.sql,  # type: ignore[arg-type]  # stateful() checked sql
            self.parameters,
            resend_all=self._resend_all,
            match_key_only=self.match_key_only,
            salt=self._fingerprint_key.hex(),
            shape=self._shape,
        )

    def save_state(self, confirmed: Recorder, source_hook: Any, context: Context) -> None:
        if self._state is not None:
            written = confirmed.finish()
            self.log.info("CleverTap %s: recorded %d accepted records in %s", self.action, written, self._state.table)

    # -- rows to records, records to CleverTap ----------------------------------------------------

    def make_mapper(self, columns: list[str]) -> RowMapper:
        mapper = self.make_record_mapper(columns)
        if self._state is None:
            return mapper
        return ChangeFilter(
            mapper,
            self._fingerprint_key,
            itemgetter(UPLOAD_ID_KEYS[self.identity_type]),
            match_key_only=self.match_key_only,
            key_bytes=self._state.dialect.key_bytes,
            key_index=columns.index(self._state.key_column),
        )

    def send(self, hook: CleverTapHook, items: Iterator[Any]) -> Iterator[BatchResult]:
        if self._state is not None:
            return hook.upload_encoded(items, batch_size=self.batch_size, dry_run=self.dry_run)
        return hook.upload_records(items, batch_size=self.batch_size, dry_run=self.dry_run)
