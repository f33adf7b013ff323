"""The stateful sync cases of issue 12, run in a fresh process like the others (``benchmarks.cases``).

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
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from benchmarks.cases import CONTEXT, Prepared, Spec, timed_execute, upload_operator
from benchmarks.dataset import Table

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
    return {"first_run": summary}


def _stateful(table: Table) -> dict[str, Any]:
    return {"sync_mode": "changed", "state_table": table.prefix + STATE_TABLE, "sync_id": SYNC_ID}


def timed(spec: Spec) -> Prepared:
    """The timed part: one run of ours in the case's mode, on its copy of the edited table."""
    options = {} if spec["kind"] == "upsert" else _stateful(Table.from_dict(spec["table"]))
    return timed_execute(upload_operator(spec, **options))
