"""What the upload and delete operators share: read rows, map them, send batches, account, report."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowTaskTimeout,
    BaseOperator,
)

from airflow_provider_clevertap.exceptions import CleverTapAPIError, CleverTapCancelled, CleverTapConfigError
from airflow_provider_clevertap.failed_rows import Attempt, prepare_for_run, write_problems
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.lineage import CleverTapLineageMixin
from airflow_provider_clevertap.operators.arguments import check_arguments
from airflow_provider_clevertap.operators.collector import fewer_collections
from airflow_provider_clevertap.operators.items import RowMapper, items_of
from airflow_provider_clevertap.operators.outcome import check_failed_ratio, check_unconfirmed
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.sources import RowSource, decode_rows, get_sql_hook, mapping_source, sql_source
from airflow_provider_clevertap.state.catalog import check_for_dry_run
from airflow_provider_clevertap.state.changes import Confirmations
from airflow_provider_clevertap.state.recorder import StateWriteError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


# Days of failed rows a run keeps by default.
DEFAULT_RETENTION_DAYS = 30


class CleverTapSyncOperator(CleverTapLineageMixin, BaseOperator):
    """Base of the CleverTap operators: every row read ends up accepted, refused, invalid or
    (a stateful sync) unchanged.

    Subclasses say how a row becomes an item (a profile record, an id) and how items are sent,
    and which CleverTap objects they write (``object_kind``: profiles, events) for lineage.

    :param clevertap_conn_id: the ``clevertap`` connection.
    :param source_conn_id: an Airflow SQL connection (any DbApiHook) to read rows from.
    :param sql: the query (templated; a path ending in ``.sql`` is read as a template).
    :param parameters: parameters of the query (templated).
    :param rows: instead of ``source_conn_id`` and ``sql``: a list of mappings, for example
        from XCom (templated; a JSON string is decoded).
    :param identity_column: the column holding each row's identity.
    :param batch_size: items per request.
    :param max_concurrency: requests in flight at once (at most 15, CleverTap's account limit).
    :param max_failed_ratio: the share of rows that may be invalid or refused before the task
        fails (0.0: any such row fails it). Checked after every row has been processed.
    :param failed_rows_table: a table of the source connection that receives one row per
        invalid or refused row (created if missing).
    :param failed_rows_retention_days: each run first deletes the rows of ``failed_rows_table``
        recorded before the UTC day that many days ago; None keeps every row.
    :param dry_run: validate without storing anything: ``failed_rows_table`` is only read, to
        check it, neither pruned nor written.
    """

    template_fields: Sequence[str] = ("sql", "parameters", "rows", "failed_rows_table")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json", "rows": "json"}
    ui_color = "#e8f1fb"
    action: ClassVar[str]
    max_batch_size: ClassVar[int]

    def __init__(
        self,
        *,
        clevertap_conn_id: str = CleverTapHook.default_conn_name,
        source_conn_id: str | None = None,
        sql: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        rows: Sequence[Mapping[str, Any]] | str | None = None,
        identity_column: str = "identity",
        batch_size: int,
        max_concurrency: int,
        max_failed_ratio: float = 0.0,
        failed_rows_table: str | None = None,
        failed_rows_retention_days: int | None = DEFAULT_RETENTION_DAYS,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_arguments(
            sql=sql,
            rows=rows,
            source_conn_id=source_conn_id,
            failed_rows_table=failed_rows_table,
            batch_size=batch_size,
            max_batch_size=self.max_batch_size,
            max_concurrency=max_concurrency,
            max_failed_ratio=max_failed_ratio,
            failed_rows_retention_days=failed_rows_retention_days,
        )
        self.clevertap_conn_id = clevertap_conn_id
        self.source_conn_id = source_conn_id
        self.sql = sql
        self.parameters = parameters
        self.rows = rows
        self.identity_column = identity_column
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.max_failed_ratio = max_failed_ratio
        self.failed_rows_table = failed_rows_table
        self.failed_rows_retention_days = failed_rows_retention_days
        self.dry_run = dry_run
        self._hook: CleverTapHook | None = None
        # Set by on_kill. A plain flag, not an Event: operators are deep-copied and serialised.
        self._killed = False

    # -- what subclasses define ---------------------------------------------------------------

    def make_mapper(self, columns: list[str]) -> RowMapper:
        """Check the columns and return what turns a row into an item; raise before anything is sent."""
        raise NotImplementedError

    def send(self, hook: CleverTapHook, items: Iterator[Any]) -> Iterator[BatchResult]:
        """Send items in batches and yield each batch's outcome."""
        raise NotImplementedError

    # -- what subclasses may define: a state kept between runs -------------------------------------

    def start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Confirmations | None:
        """Prepare the run's state; return where CleverTap's confirmations are noted, or None."""
        return None

    def read_source(self, source_hook: Any) -> AbstractContextManager[RowSource]:
        """The rows of ``sql``."""
        assert self.sql is not None, "the constructor takes sql when it takes no rows"
        return sql_source(source_hook, self.sql, self.parameters)

    def save_state(self, confirmed: Any, source_hook: Any, context: Context) -> None:
        """Write what is left of CleverTap's confirmations, noted in what ``start_state`` returned
        (called once the source is closed, even after a failure)."""

    def after_sync(self, report: SyncReport) -> None:
        """Work after every row was processed without error (a mirror's deletions)."""

    # -- the sync ---------------------------------------------------------------------------------

    @property
    def hook(self) -> CleverTapHook:
        if self._hook is None:
            self._hook = CleverTapHook(self.clevertap_conn_id, max_concurrency=self.max_concurrency)
        return self._hook

    def execute(self, context: Context) -> dict[str, Any]:
        report = SyncReport(self.action, self.dry_run, self.log, keep_problems=bool(self._problems_table))
        # A wrong CleverTap connection (no passcode, unknown region) fails before the query runs.
        self.hook.get_conn()
        self.start_lineage(report)
        source_hook = get_sql_hook(self.source_conn_id) if self.source_conn_id else None
        # Configuration found wrong after sending would send everything again on a retry.
        if self.failed_rows_table and source_hook is not None:
            self._prepare_failed_rows(source_hook, self.failed_rows_table)
        confirmed = self._start_state(context, source_hook, report)
        with ExitStack() as closing:
            closing.callback(report.close)
            if confirmed is not None:
                closing.callback(confirmed.close)
            with self._recording(context, source_hook, report, confirmed):
                self._sync_source(source_hook, report, confirmed)
            self.after_sync(report)
        report.log_summary()
        summary = report.summary()
        check_unconfirmed(self.action, report, context, summary)
        check_failed_ratio(self.action, report, self.max_failed_ratio, context, summary)
        self.record_summary(context, summary)
        return summary

    @property
    def _problems_table(self) -> str | None:
        """The table the problems are written to: none in a dry run, which only checks it."""
        return None if self.dry_run else self.failed_rows_table

    def _prepare_failed_rows(self, source_hook: Any, table: str) -> None:
        """Make the failed-rows table ready, its old rows deleted; a dry run only checks it."""
        if not self.dry_run:
            prepare_for_run(source_hook, table, self.failed_rows_retention_days, self.action, self.source_conn_id)
            return
        there = check_for_dry_run(source_hook, table, "failed_rows_table", self.action, self.source_conn_id)
        message = "CleverTap %s (dry run): failed_rows_table %s%s is left untouched: nothing deleted or written"
        self.log.info(message, self.action, table, "" if there else " (not there yet)")

    def _start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Confirmations | None:
        """``start_state``, with a state_table or sync_id the state cannot use failing without retries."""
        try:
            return self.start_state(context, source_hook, report)
        except CleverTapConfigError:
            raise
        except ValueError as error:
            raise CleverTapConfigError(f"CleverTap {self.action}: {error}") from None

    def _sync_source(self, source_hook: Any, report: SyncReport, confirmed: Confirmations | None) -> None:
        with self._open_source(source_hook) as source:
            if source is None:
                self.log.info("CleverTap %s: the rows given are an empty list, nothing to send", self.action)
            else:
                self._sync(source, report, confirmed)

    @contextmanager
    def _recording(
        self, context: Context, source_hook: Any, report: SyncReport, confirmed: Confirmations | None
    ) -> Iterator[None]:
        """Around the sync, whatever ends it: note why it stopped, close the hook, write the state
        and the problem rows, and log a stopped sync's summary (each step even if one before failed)."""
        with ExitStack() as finally_:
            finally_.callback(self._log_if_stopped, report)
            finally_.callback(self._record, context, source_hook, report, confirmed)
            finally_.callback(self.hook.close)
            try:
                yield
            except BaseException as error:
                if report.stopped_reason is None:
                    report.stopped(self._stop_reason(error))
                raise

    @staticmethod
    def _log_if_stopped(report: SyncReport) -> None:
        if report.stopped_reason is not None:
            report.log_summary()

    def _record(self, context: Context, source_hook: Any, report: SyncReport, confirmed: Confirmations | None) -> None:
        """Write the state and the problem rows: what a killed or failed run got done is kept."""
        try:
            if confirmed is not None:
                self.save_state(confirmed, source_hook, context)
        except StateWriteError as error:
            report.stopped(report.stopped_reason or str(error))
            raise
        finally:
            table = self._problems_table
            if table and source_hook is not None and report.rows_failed:
                # Killed, or stopped by an error, before every row was processed.
                attempt = Attempt.of(self.dag_id, self.task_id, context, stopped=report.stopped_reason is not None)
                write_problems(source_hook, table, report.kept_problems(), attempt)
                self.note_failed_rows_written()

    def _stop_reason(self, error: BaseException) -> str:
        """Why the sync stopped, for its summary: our own errors' messages, only the type of others
        (a database error may quote a row)."""
        if self._killed:
            return "the task was killed"
        if isinstance(error, (CleverTapAPIError, StateWriteError)):
            return str(error)
        if isinstance(error, CleverTapCancelled):
            return "cancelled"
        if isinstance(error, AirflowTaskTimeout):
            return "execution_timeout reached"
        return type(error).__name__

    def _sync(self, source: RowSource, report: SyncReport, confirmed: Confirmations | None) -> None:
        try:
            mapper = self.make_mapper(source.columns)
        except (ValueError, TypeError) as error:
            # A column the query does not return will not appear on a retry: fail for good.
            raise CleverTapConfigError(f"CleverTap {self.action}: {error}") from None
        self.note_mapper(mapper)
        self.log.info("CleverTap %s: reading columns %s", self.action, ", ".join(source.columns))
        items = items_of(source.rows, mapper, report, lambda: self._killed, self.action)
        try:
            with fewer_collections():
                for result in self.send(self.hook, items):
                    report.batch_done(result)
                    if confirmed is not None:
                        confirmed.note(result)
            if source.unchanged:  # compared with the state by the warehouse: read there, not streamed
                self.log.info("CleverTap %s: the warehouse found %d rows unchanged", self.action, source.unchanged)
                report.rows_read += source.unchanged
                report.rows_unchanged += source.unchanged
        except (CleverTapAPIError, CleverTapCancelled) as error:
            report.stopped(self._stop_reason(error))
            unchanged = f"{report.rows_unchanged} unchanged, " if report.stateful else ""
            raise AirflowException(
                f"CleverTap {self.action} stopped after {report.rows_read} rows read: "
                f"{report.rows_accepted} accepted before the failure, {report.rows_refused} refused, "
                f"{report.rows_invalid} invalid, {unchanged}"
                f"{report.rows_read - report.rows_failed - report.rows_accepted - report.rows_unchanged} "
                f"unconfirmed (not sent, or no answer came, or an answer that did not say). {error}"
            ) from None

    @contextmanager
    def _open_source(self, source_hook: Any) -> Iterator[RowSource | None]:
        """The rows to sync; None for an empty ``rows`` list (no columns to check, nothing to send)."""
        if self.rows is not None:
            rows = decode_rows(self.rows)
            yield mapping_source(rows) if rows else None
        else:
            with self.read_source(source_hook) as source:
                yield source

    def on_kill(self) -> None:
        self._killed = True
        if self._hook is not None:
            self._hook.cancel()
