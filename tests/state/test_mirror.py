"""The mirror's guard against hostile timing: whatever happens to the tables once the guard has
approved the deletions, the mirror deletes no more than it approved (a real SQLite file or
PostgreSQL database, a second connection emptying the staged table, the emulator over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_clevertap.state import mirror
from tests.state.conftest import upload

USERS = 100
RATIO = 0.1


def mirror_run(warehouse, sync_id: str) -> dict[str, Any]:
    """A mirror sync of the staged users, run outside a DAG (``execute``)."""
    operator = upload(warehouse, sync_id, sync_mode="mirror", max_delete_ratio=RATIO)
    return operator.execute({"run_id": f"manual__{sync_id}"})


def test_a_staged_table_emptied_after_the_guard_approved_deletes_only_what_was_approved(warehouse, emu, monkeypatch):
    identities = warehouse.stage(USERS)

    assert mirror_run(warehouse, "mirror.guard")["rows_accepted"] == USERS
    leaving = [f"user-{n:04d}" for n in range(1, 6)]
    warehouse.execute(f"DELETE FROM {warehouse.users} WHERE n <= 5")

    approved: list[int] = []
    check = mirror.check_delete_ratio

    def approve_then_empty_the_staged_table(count: int, held: int, max_delete_ratio: float) -> None:
        check(count, held, max_delete_ratio)
        approved.append(count)
        # A loader running at the wrong moment, on a connection of its own.
        empty = "TRUNCATE TABLE {}" if warehouse.kind == "postgres" else "DELETE FROM {}"
        warehouse.execute(empty.format(warehouse.users))

    monkeypatch.setattr(mirror, "check_delete_ratio", approve_then_empty_the_staged_table)

    summary = mirror_run(warehouse, "mirror.guard")

    assert approved == [len(leaving)]
    assert summary["profiles_deleted"] == len(leaving)
    assert emu.stats.deletes == len(leaving)
    assert set(emu.profiles) == set(identities) - set(leaving)
    assert set(warehouse.state_rows("mirror.guard")) == set(identities) - set(leaving)


@pytest.mark.parametrize("leaving", [10, 11])
def test_the_guard_allows_exactly_max_delete_ratio_of_the_profiles_held(warehouse, emu, leaving):
    warehouse.stage(USERS)

    mirror_run(warehouse, "mirror.edge")
    warehouse.execute(f"DELETE FROM {warehouse.users} WHERE n <= {leaving}")
    if leaving <= RATIO * USERS:
        assert mirror_run(warehouse, "mirror.edge")["profiles_deleted"] == leaving
        assert emu.stats.deletes == leaving
    else:
        with pytest.raises(Exception, match=f"{leaving} of the {USERS} profiles this sync holds"):
            mirror_run(warehouse, "mirror.edge")
        assert emu.stats.deletes == 0
