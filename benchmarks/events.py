"""The event upload cases, run in a fresh process like the others (``benchmarks.cases``).

They read the staged orders (``benchmarks.dataset.event_rows``), one ``Charged`` event per row,
and are the profile upload's cases applied to events:

- ``ours``: ``CleverTapEventUploadOperator(...).execute(context)`` configured like
  ``example_dags/clevertap_event_sync.py``: the order id is the event id, so the run also writes
  the accepted ids to the state table (on the case's own copy of the staged table);
- ``naive``: a hand-written loop posting one batch of 1000 events after another;
- ``floor``: read the rows, build the events, JSON-encode the batches; no HTTP;
- ``absorb``: the pre-encoded batches sent many at once: what the emulator alone can take.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from benchmarks.cases import (
    UPLOAD_BATCH,
    UPLOAD_PATH,
    Prepared,
    Spec,
    absorb,
    encoded_bodies,
    epoch_seconds,
    floor,
    naive_loop,
    operator,
    timed_execute,
)
from benchmarks.dataset import EVENT_OPTIONS, Table

STATE_TABLE = "clevertap_sync_state"
SYNC_ID = "bench.events"


def floor_event_records(columns: list[str], rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """The events ours sends for the staged orders, built with the least work (no checks: none is faulty)."""
    index = {column: position for position, column in enumerate(columns)}
    identity, ts = index[EVENT_OPTIONS["identity_column"]], index[EVENT_OPTIONS["ts_column"]]
    properties = [(name, index[column]) for column, name in EVENT_OPTIONS["property_columns"].items()]
    event_name = EVENT_OPTIONS["event_name"]
    epoch = epoch_seconds
    for row in rows:
        yield {
            "type": "event",
            "identity": row[identity],
            "ts": epoch(row[ts]),
            "evtName": event_name,
            "evtData": {name: row[position] for name, position in properties},
        }


def _encoded_event_bodies(table: Table) -> Iterator[tuple[int, bytes]]:
    return encoded_bodies(table, table.event_sql, floor_event_records, UPLOAD_BATCH, "d")


def ours_event(spec: Spec) -> Prepared:
    table = Table.from_dict(spec["table"])
    upload = operator(
        "CleverTapEventUploadOperator",
        spec,
        table.event_sql,
        task_id="bench_events",
        max_failed_ratio=0.01,
        state_table=table.prefix + STATE_TABLE,
        sync_id=SYNC_ID,
        **EVENT_OPTIONS,
    )
    return timed_execute(upload)


def _naive_events(columns: list[str], rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    batch = []
    for row in rows:
        order = dict(zip(columns, row, strict=True))
        ordered_at = dt.datetime.fromisoformat(order["ordered_at"]).replace(tzinfo=dt.timezone.utc)
        batch.append(
            {
                "type": "event",
                "identity": order["customer_id"],
                "ts": int(ordered_at.timestamp()),
                "evtName": "Charged",
                "evtData": {"Order ID": order["order_id"], "Amount": order["amount"]},
            }
        )
    return {"d": batch}


def naive_event(spec: Spec) -> Prepared:
    return naive_loop(spec, UPLOAD_PATH, Table.from_dict(spec["table"]).event_sql, UPLOAD_BATCH, _naive_events)


CASES: dict[str, Callable[[Spec], Prepared]] = {
    "ours": ours_event,
    "naive": naive_event,
    "floor": lambda spec: floor(spec, _encoded_event_bodies),
    "absorb": lambda spec: absorb(spec, UPLOAD_PATH, _encoded_event_bodies),
}
