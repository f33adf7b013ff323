"""CleverTapUserUploadOperator: upsert CleverTap user profiles from staged warehouse rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.operators.record_upload import CleverTapRecordUploadOperator
from airflow_provider_clevertap.operators.user_delete import DEFAULT_DELETE_CONCURRENCY
from airflow_provider_clevertap.properties import check_choice
from airflow_provider_clevertap.records import ProfileMapper
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.state import SYNC_MODES
from airflow_provider_clevertap.state.mirror import mirror_deletions
from airflow_provider_clevertap.state.recorder import Recorder

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Bumped when the fingerprinted bytes change meaning: every row is then sent once more.
_FINGERPRINT_VERSION = 1


class CleverTapUserUploadOperator(CleverTapRecordUploadOperator):
    """
    Upload (create or update) CleverTap user profiles, one per row of a SQL query or a list.

    Each row becomes a profile record: the identity column becomes ``identity`` (or
    ``objectId``), the ts column becomes ``ts``, the other selected columns become profile
    properties (nulls are left out). Rows CleverTap could not store are reported invalid and not
    sent; rows CleverTap refuses are reported with its code. Returns (and pushes to XCom) a
    summary: ``rows_read``, ``rows_invalid``, ``rows_accepted``, ``rows_refused``, ``rows_failed``
    (invalid plus refused), ``rows_unchanged``, ``profiles_deleted``, ``batches``, ``requests``,
    ``retries``, ``dry_run``, ``seconds`` and ``failed_sample``.

    A stateful sync (``sync_mode`` ``changed`` or ``mirror``) keeps, in ``state_table`` on the
    source connection, the fingerprint of each record CleverTap accepted, and sends only rows whose
    record CleverTap does not already hold: new, changed, or last refused or never confirmed.

    :param clevertap_conn_id: the ``clevertap`` connection (Account ID, Passcode, region).
    :param source_conn_id: an Airflow SQL connection (any DbApiHook) to read rows from.
    :param sql: the query returning one row per profile (templated; ``.sql`` files too).
    :param parameters: parameters of the query (templated).
    :param rows: instead of ``source_conn_id`` and ``sql``: a list of mappings (templated).
    :param identity_column: the column holding each profile's identity.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id).
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
    :param max_failed_ratio: share of rows that may be invalid or refused before the task
        fails (without Airflow retries), after all rows were processed.
    :param failed_rows_table: a table of the source connection that receives one row per
        invalid or refused row (created if missing).
    :param failed_rows_retention_days: days of ``failed_rows_table`` rows kept: each run first
        deletes older ones (default 30; None keeps every row).
    :param dry_run: send with ``dryRun=1``: CleverTap validates and stores nothing. A stateful
        dry run reports what would be sent and deleted, deletes nothing and writes no state;
        ``state_table`` and ``failed_rows_table`` are only checked (read), neither pruned nor written.
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

    template_fields: Sequence[str] = (*CleverTapRecordUploadOperator.template_fields, "sync_mode")
    state_key_parameter = "identity_column"

    def __init__(
        self,
        *,
        sync_mode: str = "upsert",
        max_delete_ratio: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= max_delete_ratio <= 1.0:
            raise ValueError(f"max_delete_ratio must be between 0 and 1, got {max_delete_ratio}")
        self.sync_mode = sync_mode
        self.max_delete_ratio = max_delete_ratio
        if "{{" not in str(sync_mode):  # a template is checked once rendered, in execute
            self._check_sync_mode()
        self._delete_hook: CleverTapHook | None = None

    def _check_sync_mode(self) -> str:
        check_choice("sync_mode", self.sync_mode, SYNC_MODES)
        if self.sync_mode != "upsert":
            self._needs_source(f"sync_mode {self.sync_mode!r}")
            if self.sync_mode == "mirror" and self.identity_type != "identity":
                raise ValueError("sync_mode 'mirror' deletes by identity: it needs identity_type 'identity'")
        return self.sync_mode

    # -- what the record upload asks -------------------------------------------------------------

    def stateful(self) -> bool:
        return self._check_sync_mode() != "upsert"

    def start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Recorder | None:
        report.mirror = self._check_sync_mode() == "mirror"
        return super().start_state(context, source_hook, report)

    def state_key_column(self) -> str:
        return self.identity_column

    def describe_sync(self) -> str:
        return self.sync_mode

    def make_record_mapper(self, columns: list[str]) -> ProfileMapper:
        return ProfileMapper(columns, **self._mapper_arguments())

    def mapping_options(self) -> list[Any]:
        return [
            _FINGERPRINT_VERSION,
            self.identity_type,
            self._selection(),
            self.ts_column,
            self.convert_timestamps,
            self.timestamp_format,
        ]

    # -- the mirror's deletions ------------------------------------------------------------------

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
