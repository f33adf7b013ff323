"""CleverTapUserUploadOperator: upsert CleverTap user profiles from staged warehouse rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from airflow_provider_clevertap.hooks.clevertap import MAX_UPLOAD_BATCH, CleverTapHook
from airflow_provider_clevertap.operators.base import CleverTapSyncOperator
from airflow_provider_clevertap.records import IDENTITY_TYPES, ProfileMapper, check_choice
from airflow_provider_clevertap.responses import BatchResult
from airflow_provider_clevertap.timestamps import TIMESTAMP_FORMATS, TimestampFormat


class CleverTapUserUploadOperator(CleverTapSyncOperator):
    """
    Upload (create or update) CleverTap user profiles, one per row of a SQL query or a list.

    Each row becomes a profile record: the identity column becomes ``identity`` (or
    ``objectId``), the ts column becomes ``ts``, the other selected columns become profile
    properties (nulls are left out). Rows CleverTap could not store are reported invalid and not
    sent; rows CleverTap refuses are reported with its code. Returns (and pushes to XCom) a
    summary: ``rows_read``, ``rows_invalid``, ``rows_accepted``, ``rows_rejected``, ``batches``,
    ``requests``, ``retries``, ``dry_run``, ``seconds`` and ``rejected_sample``.

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
    :param dry_run: send with ``dryRun=1``: CleverTap validates and stores nothing.
    """

    action = "upload"
    max_batch_size = MAX_UPLOAD_BATCH

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
        **kwargs: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, max_concurrency=max_concurrency, **kwargs)
        check_choice("identity_type", identity_type, IDENTITY_TYPES)
        check_choice("timestamp_format", timestamp_format, TIMESTAMP_FORMATS)
        self.identity_type = identity_type
        self.ts_column = ts_column
        self.property_columns = property_columns
        self.convert_timestamps = convert_timestamps
        self.timestamp_format = timestamp_format

    def make_mapper(self, columns: list[str]) -> ProfileMapper:
        return ProfileMapper(
            columns,
            identity_column=self.identity_column,
            identity_type=self.identity_type,
            ts_column=self.ts_column,
            property_columns=self.property_columns,
            convert_timestamps=self.convert_timestamps,
            timestamp_format=self.timestamp_format,
        )

    def send(self, hook: CleverTapHook, items: Iterator[dict[str, Any]]) -> Iterator[BatchResult]:
        return hook.upload_profiles(items, batch_size=self.batch_size, dry_run=self.dry_run)
