"""CleverTapUserUploadOperator: upsert CleverTap user profiles from staged warehouse rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_clevertap.hooks.clevertap import MAX_UPLOAD_BATCH, CleverTapHook
from airflow_provider_clevertap.operators.base import CleverTapSyncOperator
from airflow_provider_clevertap.operators.user_delete import DEFAULT_DELETE_CONCURRENCY
from airflow_provider_clevertap.records import IDENTITY_TYPES, ProfileMapper, check_choice
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.sources import RowSource
from airflow_provider_clevertap.state import DEFAULT_STATE_TABLE, SYNC_MODES, SyncState, default_sync_id, read_flag
from airflow_provider_clevertap.state.changes import ChangeFilter, Confirmed, fingerprint_key
from airflow_provider_clevertap.state.mirror import mirror_deletions
from airflow_provider_clevertap.timestamps import TIMESTAMP_FORMATS, TimestampFormat

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Bumped when the fingerprinted bytes change meaning: every row is then sent once more.
_FINGERPRINT_VERSION = 1


class CleverTapUserUploadOperator(CleverTapSyncOperator):
    """
    Upload (create or update) CleverTap user profiles, one per row of a SQL query or a list.

    Each row becomes a profile record: the identity column becomes ``identity`` (or
    ``objectId``), the ts column becomes ``ts``, the other selected columns become profile
    properties (nulls are left out). Rows CleverTap could not store are reported invalid and not
    sent; rows CleverTap refuses are reported with its code. Returns (and pushes to XCom) a
    summary: ``rows_read``, ``rows_invalid``, ``rows_accepted``, ``rows_rejected``,
    ``rows_unchanged``, ``profiles_deleted``, ``batches``, ``requests``, ``retries``, ``dry_run``,
    ``seconds`` and ``rejected_sample``.

    A stateful sync (``sync_mode`` ``changed`` or ``mirror``) keeps, in ``state_table`` on the
    source connection, the fingerprint of each record CleverTap accepted, and sends only rows whose
    record CleverTap does not already hold: new, changed, or last refused or never confirmed.

    :param clevertap_conn_id: the ``clevertap`` connection (Account ID, Passcode, region).
    :param source_conn_id: an Airflow SQL connection (any DbApiHook) to read rows from.
    :param sql: the query returning one row per profile (templated; ``.sql`` files too).
    :param parameters: parameters of the query (templated).
    :param rows: instead of ``source_conn_id`` and ``sql``: a list of mappings (templated).
    :param identity_column: the column holding each profile's identity.
    :param identity_type: ``identity`` (your user id) or ``objectId`` (CleverTap's id).
    :param ts_column: a column whose value (datetime, ISO-8601 string or epoch seconds) becomes
        the record's ``ts``; a null leaves ``ts`` out.
    :param property_columns: None for every other column; a list of columns; or a mapping of
        column to CleverTap property name.
    :param convert_timestamps: convert datetimes, dates and ISO-8601 strings (at most
        millisecond precision) in property values to CleverTap timestamps.
    :param timestamp_format: ``unix`` (epoch seconds, a number) or ``clevertap_date``
        (``"$D_<seconds>"``, stored by CleverTap as a date).
    :param batch_size: records per request, at most 1000.
    :param max_concurrency: requests in flight at once, at most 15 (CleverTap's account limit).
    :param max_rejected_ratio: share of rows that may be invalid or refused before the task
        fails (without Airflow retries), after all rows were processed.
    :param rejected_rows_table: a table of the source connection that receives one row per
        invalid or refused row (created if missing).
    :param dry_run: send with ``dryRun=1``: CleverTap validates and stores nothing. A stateful
        dry run reports what would be sent and deleted, deletes nothing and writes no state.
    :param sync_mode: ``upsert`` (send every row, keep no state), ``changed`` (send only what
        CleverTap does not hold yet) or ``mirror`` (``changed``, then delete the profiles this
        sync delivered whose identity the query no longer returns). Templated. Stateful modes
        need ``sql`` and ``source_conn_id``.
    :param state_table: the ``[schema.]table`` on the source connection holding the state of
        stateful syncs (created if missing; templated).
    :param sync_id: the sync's name in the state table (templated); by default
        ``<dag_id>.<task_id>``, plus ``[<map index>]`` for a mapped task. Set it to keep the
        state when the DAG or task is renamed.
    :param max_delete_ratio: in ``mirror`` mode, the largest share of the identities the sync
        holds that one run may delete; above it the task fails before deleting anything.
    :param full_refresh: send every row and rebuild the sync's state from what CleverTap
        accepts (templated: ``"{{ params.full_refresh }}"``). Ignored by ``upsert``.
    """

    action = "upload"
    max_batch_size = MAX_UPLOAD_BATCH
    template_fields: Sequence[str] = (
        *CleverTapSyncOperator.template_fields,
        "sync_mode",
        "state_table",
        "sync_id",
        "full_refresh",
    )

    def __init__(
        self,
        *,
        identity_type: Literal["identity", "objectId"] = "identity",
        ts_column: str | None = None,
        property_columns: Sequence[str] | Mapping[str, str] | None = None,
        convert_timestamps: bool = True,
        timestamp_format: TimestampFormat = "unix",
        batch_size: int = MAX_UPLOAD_BATCH,
        max_concurrency: int = 10,
        sync_mode: str = "upsert",
        state_table: str = DEFAULT_STATE_TABLE,
        sync_id: str | None = None,
        max_delete_ratio: float = 0.1,
        full_refresh: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, max_concurrency=max_concurrency, **kwargs)
        check_choice("identity_type", identity_type, IDENTITY_TYPES)
        check_choice("timestamp_format", timestamp_format, TIMESTAMP_FORMATS)
        if not 0.0 <= max_delete_ratio <= 1.0:
            raise ValueError(f"max_delete_ratio must be between 0 and 1, got {max_delete_ratio}")
        self.identity_type = identity_type
        self.ts_column = ts_column
        self.property_columns = property_columns
        self.convert_timestamps = convert_timestamps
        self.timestamp_format = timestamp_format
        self.sync_mode = sync_mode
        self.state_table = state_table
        self.sync_id = sync_id
        self.max_delete_ratio = max_delete_ratio
        self.full_refresh = full_refresh
        if "{{" not in str(sync_mode):  # a template is checked once rendered, in execute
            self._check_sync_mode()
        self._state: SyncState | None = None
        self._state_exists = True  # a dry run checks: it creates nothing
        self._resend_all = False
        self._delete_hook: CleverTapHook | None = None

    def _check_sync_mode(self) -> str:
        check_choice("sync_mode", self.sync_mode, SYNC_MODES)
        if self.sync_mode != "upsert":
            if self.sql is None or not self.source_conn_id:
                raise ValueError(
                    f"sync_mode {self.sync_mode!r} needs sql and source_conn_id: "
                    "the state lives on the source connection"
                )
            if self.sync_mode == "mirror" and self.identity_type != "identity":
                raise ValueError("sync_mode 'mirror' deletes by identity: it needs identity_type 'identity'")
        return self.sync_mode

    # -- the state ------------------------------------------------------------------------------

    def start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Confirmed | None:
        self._state = None
        if self._check_sync_mode() == "upsert":
            return None
        self._resend_all = read_flag(self.full_refresh, "full_refresh")
        sync_id = self.sync_id or default_sync_id(
            self.dag_id, self.task_id, context.get("ti"), getattr(self, "map_index_template", None)
        )
        state = SyncState(source_hook, self.state_table, sync_id, self.identity_column)
        report.stateful = True
        self._state = state
        self.log.info(
            "CleverTap upload: %s sync %s, state in %s%s",
            self.sync_mode,
            state.sync_id,
            state.table,
            " (full refresh: every row is sent, the state rebuilt)" if self._resend_all else "",
        )
        if self.dry_run:
            # Writes nothing, not even the table; with no table yet, every row would be sent.
            self._state_exists = state.exists()
            self._resend_all = self._resend_all or not self._state_exists
            return None
        state.create()
        state.begin()
        if self._resend_all:
            state.reset(self.sql, self.parameters)  # type: ignore[arg-type]  # checked by _check_sync_mode
        return Confirmed()

    def read_source(self, source_hook: Any) -> AbstractContextManager[RowSource]:
        if self._state is None:
            return super().read_source(source_hook)
        return self._state.read(self.sql, self.parameters, resend_all=self._resend_all)  # type: ignore[arg-type]

    def save_state(self, confirmed: Confirmed, source_hook: Any, context: Context) -> None:
        if self._state is not None:
            written = self._state.record(confirmed, str(context.get("run_id")))
            self.log.info("CleverTap upload: recorded %d accepted records in %s", written, self._state.table)

    def after_sync(self, report: SyncReport) -> None:
        if self._state is None or self.sync_mode != "mirror":
            return
        if not self._state_exists:
            self.log.info("CleverTap mirror (dry run): no state table yet, so nothing to delete")
            return
        if self._delete_hook is None:
            concurrency = min(DEFAULT_DELETE_CONCURRENCY, self.max_concurrency)
            self._delete_hook = CleverTapHook(self.clevertap_conn_id, max_concurrency=concurrency)
        mirror_deletions(
            self._state,
            self._delete_hook,
            self.sql,  # type: ignore[arg-type]  # checked by _check_sync_mode
            self.parameters,
            report,
            max_delete_ratio=self.max_delete_ratio,
            dry_run=self.dry_run,
            log=self.log,
        )

    def on_kill(self) -> None:
        super().on_kill()
        if self._delete_hook is not None:
            self._delete_hook.cancel()

    # -- rows to records ------------------------------------------------------------------------

    def make_mapper(self, columns: list[str]) -> ProfileMapper | ChangeFilter:
        mapper = ProfileMapper(
            columns,
            identity_column=self.identity_column,
            identity_type=self.identity_type,
            ts_column=self.ts_column,
            property_columns=self.property_columns,
            convert_timestamps=self.convert_timestamps,
            timestamp_format=self.timestamp_format,
        )
        if self._state is None:
            return mapper
        return ChangeFilter(mapper, fingerprint_key(self._mapping_options()), itemgetter(self.identity_type))

    def _mapping_options(self) -> list[Any]:
        """Everything besides a row's values that decides the record CleverTap stores."""
        columns = self.property_columns
        selection = list(columns.items()) if isinstance(columns, Mapping) else columns
        return [
            _FINGERPRINT_VERSION,
            self.identity_type,
            None if selection is None else list(selection),
            self.ts_column,
            self.convert_timestamps,
            self.timestamp_format,
        ]

    def send(self, hook: CleverTapHook, items: Iterator[Any]) -> Iterator[BatchResult]:
        if self._state is not None:
            return hook.upload_encoded(items, batch_size=self.batch_size, dry_run=self.dry_run)
        return hook.upload_profiles(items, batch_size=self.batch_size, dry_run=self.dry_run)
