"""Rows become items: each row read is mapped, counted invalid with its reason, counted unchanged,
or passed on to be sent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from airflow_provider_clevertap.exceptions import CleverTapCancelled
from airflow_provider_clevertap.records import InvalidRow
from airflow_provider_clevertap.results import SyncReport
from airflow_provider_clevertap.state.changes import UNCHANGED


class RowMapper(Protocol):
    """What turns a row into an item (a record, an id), or raises ``InvalidRow``."""

    def convert(self, row: Sequence[Any]) -> Any: ...

    def identity_of(self, row: Sequence[Any]) -> str | None: ...


def items_of(
    rows: Iterable[Sequence[Any]], mapper: RowMapper, report: SyncReport, killed: Callable[[], bool], action: str
) -> Iterator[Any]:
    """The items of the valid rows; invalid and unchanged rows are counted in ``report``, not sent.

    :param rows: the rows read.
    :param mapper: what turns a row into an item.
    :param report: where every row read is counted.
    :param killed: whether the task was killed: then nothing more is read or sent.
    :param action: the operator's action, for the message.
    """
    for row in rows:
        if killed():
            # Killed before or while the rows were read (during the query, say, when the
            # hook may not exist yet): send nothing more.
            raise CleverTapCancelled(f"CleverTap {action} cancelled: the task was killed")
        report.rows_read += 1
        try:
            item = mapper.convert(row)
        except InvalidRow as reason:
            identity = mapper.identity_of(row)
            if identity is None or not identity.strip():  # found again by its place in the read
                reason = InvalidRow(f"row {report.rows_read} of the read: {reason}")
            report.invalid(identity, str(reason))
            continue
        if item is UNCHANGED:
            report.rows_unchanged += 1
        else:
            yield item
