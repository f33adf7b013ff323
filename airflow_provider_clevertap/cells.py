"""Cells as the warehouse means them, whatever its driver hands over.

The Google provider's BigQuery cursor casts the REST answer's text itself: a TIMESTAMP becomes
float epoch seconds (BigQuery's default output, ``DataFormatOptions``), NUMERIC and BIGNUMERIC stay
strings, DATETIME, DATE and TIME their ISO text. Read as such, a timestamp would be sent as a
plain number and an amount as text. Here each such cell becomes what the other drivers return
(``datetime``, ``Decimal``, ``date``, ``time``), so one staged table makes the same records on
every warehouse. Keyed by the hook's connection type, then by the type code of the cursor's
``description``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _timestamp(seconds: float) -> dt.datetime:
    """Float epoch seconds as an aware UTC datetime, to the microsecond BigQuery keeps."""
    return _EPOCH + dt.timedelta(microseconds=round(seconds * 1_000_000))


_BIGQUERY: dict[str, Callable[[Any], Any]] = {
    "TIMESTAMP": _timestamp,
    "NUMERIC": decimal.Decimal,
    "BIGNUMERIC": decimal.Decimal,
    "DATETIME": dt.datetime.fromisoformat,
    "DATE": dt.date.fromisoformat,
    "TIME": dt.time.fromisoformat,
}
READERS: dict[str, dict[str, Callable[[Any], Any]]] = {"gcpbigquery": _BIGQUERY}


def cell_readers(conn_type: str, description: Sequence[Sequence[Any]]) -> list[tuple[int, Callable[[Any], Any]]]:
    """``(position, reader)`` of each column whose cells need reading on this connection type."""
    readers = READERS.get(conn_type, {})
    found = []
    for position, column in enumerate(description):
        reader = readers.get(str(column[1]).upper()) if len(column) > 1 else None
        if reader is not None:
            found.append((position, reader))
    return found


def typed_rows(
    rows: Iterator[Sequence[Any]], readers: list[tuple[int, Callable[[Any], Any]]]
) -> Iterator[Sequence[Any]]:
    """``rows``, each cell that ``readers`` names read by its reader (NULL stays None)."""
    if not readers:
        yield from rows
        return
    for row in rows:
        cells = list(row)
        for position, reader in readers:
            if cells[position] is not None:
                cells[position] = reader(cells[position])
        yield tuple(cells)
