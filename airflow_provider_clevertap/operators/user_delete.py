"""CleverTapUserDeleteOperator: delete the CleverTap profiles whose ids a query stages."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from more_itertools import chunked

from airflow_provider_clevertap.hooks.clevertap import MAX_DELETE_BATCH, CleverTapHook
from airflow_provider_clevertap.operators.base import CleverTapSyncOperator
from airflow_provider_clevertap.records import IDENTITY_TYPES, IdMapper, check_choice
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.state.catalog import check_for_dry_run
from airflow_provider_clevertap.state.changes import Confirmed
from airflow_provider_clevertap.state.dialects import check_proven, check_table_name
from airflow_provider_clevertap.state.layout import create_state_table
from airflow_provider_clevertap.state.writes import forget_identities

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

DEFAULT_DELETE_CONCURRENCY = 3  # CleverTap's delete limit is unconfirmed; peers saw 429s above a few
_DRY_RUN_SHOWN = 5  # ids named per batch in a dry run's log (identities may be logged, values never)


class CleverTapUserDeleteOperator(CleverTapSyncOperator):
    """
    Delete CleverTap user profiles by identity or CleverTap's id, one per row of a SQL query or a list.

    CleverTap deletes asynchronously (within 48 hours), and a later upload of the same identity
    creates the profile again. Returns (and pushes to XCom) the same summary as the upload
    operator; in a dry run nothing is sent and ``rows_accepted`` counts what would be deleted.

    :param clevertap_conn_id: the ``clevertap`` connection (Account ID, Passcode, region).
    :param source_conn_id: an Airflow SQL connection (any DbApiHook) to read rows from.
    :param sql: the query returning one row per profile to delete (templated; ``.sql`` files too).
    :param parameters: parameters of the query (templated).
    :param rows: instead of ``source_conn_id`` and ``sql``: a list of mappings (templated).
    :param identity_column: the column holding the identity (or CleverTap's id) to delete.
    :param identity_type: ``identity`` (your user id) or ``clevertap_id`` (CleverTap's id); one
        request never mixes them.
    :param batch_size: ids per request, at most 100.
    :param max_concurrency: requests in flight at once, at most 15.
    :param max_failed_ratio: share of rows that may be invalid or refused before the task
        fails (without Airflow retries), after all rows were processed.
    :param failed_rows_table: a table of the source connection that receives one row per
        invalid or refused row (created if missing).
    :param failed_rows_retention_days: days of ``failed_rows_table`` rows kept: each run first
        deletes older ones (default 30; None keeps every row).
    :param dry_run: send nothing; report what would be deleted. ``state_table`` and
        ``failed_rows_table`` are only checked (read), neither pruned nor written.
    :param state_table: the state table of stateful upload syncs on the source connection
        (templated): every sync recorded there forgets the identities whose deletion CleverTap
        confirmed, so a row that reappears is uploaded again. Needs ``identity_type`` ``identity``.
    """

    action = "delete"
    max_batch_size = MAX_DELETE_BATCH
    template_fields: Sequence[str] = (*CleverTapSyncOperator.template_fields, "state_table")

    def __init__(
        self,
        *,
        identity_type: Literal["identity", "clevertap_id"] = "identity",
        batch_size: int = MAX_DELETE_BATCH,
        max_concurrency: int = DEFAULT_DELETE_CONCURRENCY,
        state_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, max_concurrency=max_concurrency, **kwargs)
        check_choice("identity_type", identity_type, IDENTITY_TYPES)
        if state_table and not self.source_conn_id:
            raise ValueError("state_table needs source_conn_id: the connection that holds it")
        if state_table and identity_type != "identity":
            raise ValueError("state_table needs identity_type 'identity': the state knows profiles by identity")
        self.identity_type = identity_type
        self.state_table = state_table

    def start_state(self, context: Context, source_hook: Any, report: SyncReport) -> Confirmed | None:
        if self.state_table and source_hook is not None:
            check_table_name(self.state_table, "state_table")  # written after the deletions: checked first
            check_proven(source_hook)
            if self.dry_run:  # reads only: a table a real run could neither read nor create fails here
                check_for_dry_run(source_hook, self.state_table, "state_table", self.action, self.source_conn_id)
            else:
                create_state_table(source_hook, self.state_table)
        return Confirmed() if self.state_table and not self.dry_run else None

    def save_state(self, confirmed: Confirmed, source_hook: Any, context: Context) -> None:
        assert self.state_table is not None  # start_state gave no Confirmed otherwise (and created the table)
        forgotten = forget_identities(source_hook, self.state_table, (entry[0] for entry in confirmed))
        self.log.info(
            "CleverTap delete: %d state rows of deleted identities forgotten in %s", forgotten, self.state_table
        )

    def make_mapper(self, columns: list[str]) -> IdMapper:
        return IdMapper(columns, id_column=self.identity_column)

    def send(self, hook: CleverTapHook, items: Iterator[str]) -> Iterator[BatchResult]:
        if self.dry_run:
            return self._dry_run(items)
        return hook.delete_profiles(items, identity_type=self.identity_type, batch_size=self.batch_size)

    def _dry_run(self, ids: Iterator[str]) -> Iterator[BatchResult]:
        """Batches as they would be sent, each counted accepted, with no request made."""
        for batch in chunked(ids, self.batch_size):
            self.log.info(
                "CleverTap delete (dry run): would delete %d profiles by %s: %s%s",
                len(batch),
                self.identity_type,
                ", ".join(batch[:_DRY_RUN_SHOWN]),
                ", ..." if len(batch) > _DRY_RUN_SHOWN else "",
            )
            yield BatchResult(batch, [], attempts=0)
