"""The stateful sync cases, run in a fresh process like the others (``benchmarks.cases``).

All three run on one staged table with 1% of its rows edited (the ``orders`` of every customer
whose key ends in 42: never a row CleverTap refuses or one with no identity), each on its own copy
of it, since the state table lives there, on the source connection:

- ``upsert``: ours with ``sync_mode="upsert"`` (today's behaviour: every row sent, no state);
- ``changed``: ours with ``sync_mode="changed"`` on a table already synced: its set-up, untimed, is
  a first ``changed`` run of the table as staged (the emulator answering with no latency: set-up,
  not measured), then the edit. The timed run sends the edited rows and the refused ones (a refused
  row is never in the state, so it is retried every run); the rest are unchanged;
- ``first``: ours with ``sync_mode="changed"`` on an empty state: sends what ``upsert`` sends, and
  creates and fills the state.

The ``changed`` case's set-up also measures the warehouse's own *bare diff*, after the edit: the
query joined with the state as the sync reads it (``SyncState.read``: rows the warehouse knows
unchanged stay there, where it can tell), every row fetched and dropped. Only the read is timed.
"""

from __future__ import annotations

import json
import resource
import time
import urllib.request
from typing import Any

from benchmarks.cases import CONTEXT, Prepared, Spec, timed_execute, upload_operator
from benchmarks.dataset import UPLOAD_OPTIONS, Table

STATE_TABLE = "clevertap_sync_state"
SYNC_ID = "bench.changed"
EDITED_EVERY = 100  # 1% of the rows
EDITED_KEY_ENDING = 42  # the key's position in its block of 1000 is never a faulty one (17, 334, 651, 900)
KINDS = ("upsert", "changed", "first")


def edited_rows(rows: int) -> int:
    """How many rows the edit changes."""
    return sum(1 for key in range(1, rows + 1) if key % EDITED_EVERY == EDITED_KEY_ENDING)


def _edit(table: Table) -> None:
    connection = table.connect()
    try:
        connection.cursor().execute(
            f"UPDATE {table.prefix}staged_customers SET orders = orders + 1 "
            f"WHERE customer_key % {EDITED_EVERY} = {EDITED_KEY_ENDING}"
        )
        connection.commit()
    finally:
        connection.close()


def _configure_emulator(spec: Spec, latency: float) -> None:
    """Change the emulator's latency (its whole fault set: the concurrency limit is kept)."""
    body = json.dumps({"latency": latency, "concurrency_limit": spec["emulator_limit"]}).encode()
    request = urllib.request.Request(
        spec["url"] + "/_emulator/configure", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def set_up(spec: Spec) -> dict[str, Any]:
    """Untimed: bring the case's copy of the table to where its timed run starts."""
    table = Table.from_dict(spec["table"])
    summary: dict[str, Any] = {}
    if spec["kind"] == "changed":
        _configure_emulator(spec, 0.0)
        try:
            summary = upload_operator(spec, **_stateful(table)).execute(CONTEXT)
        finally:
            _configure_emulator(spec, spec["latency"])
    _edit(table)
    return {"first_run": summary, "bare_diff": bare_diff(spec) if spec["kind"] == "changed" else None}


def bare_diff(spec: Spec) -> dict[str, Any]:
    """The warehouse's diff alone: the query joined with the sync's state, read to the end and dropped.

    Built as the ``changed`` run builds it (the same state, sync id, key and salt of the row hash).
    """
    from airflow_provider_clevertap.sources import get_sql_hook
    from airflow_provider_clevertap.state.changes import fingerprint_key
    from airflow_provider_clevertap.state.table import SyncState, describe

    task = upload_operator(spec, **_stateful(Table.from_dict(spec["table"])))
    hook = get_sql_hook("warehouse")
    shape = describe(hook, task.sql, None)
    salt = fingerprint_key([*task.mapping_options(), shape]).hex()
    state = SyncState(hook, task.state_table, SYNC_ID, UPLOAD_OPTIONS["identity_column"])
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with state.read(task.sql, None, salt=salt, shape=shape) as source:
        streamed = sum(1 for _ in source.rows)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "streamed": streamed, "unchanged": source.unchanged}


def _stateful(table: Table) -> dict[str, Any]:
    return {"sync_mode": "changed", "state_table": table.prefix + STATE_TABLE, "sync_id": SYNC_ID}


def timed(spec: Spec) -> Prepared:
    """The timed part: one run of ours in the case's mode, on its copy of the edited table."""
    options = {} if spec["kind"] == "upsert" else _stateful(Table.from_dict(spec["table"]))
    return timed_execute(upload_operator(spec, **options))
