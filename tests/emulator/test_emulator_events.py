"""The emulator's event records: validated as CleverTap does, stored per profile, and the ambiguous
failure (processed, then the connection dropped) that makes a retried upload store events twice."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

TS = 1700000000


def event(identity: str = "u-1", name: str = "Order Placed", **data: Any) -> dict[str, Any]:
    return {"type": "event", "identity": identity, "ts": TS, "evtName": name, "evtData": data}


def upload(emu: CleverTapEmulator, session: requests.Session, records: list[Any]) -> requests.Response:
    return session.post(f"{emu.url}/1/upload", json={"d": records}, timeout=10)


REFUSED = [
    pytest.param({"type": "event", "identity": "u-1", "evtName": "A", "evtData": {}}, 525, id="no-ts"),
    pytest.param(event(name="App Launched"), 555, id="reserved-name"),
    pytest.param(event(name="notification clicked"), 555, id="reserved-name-any-case"),
    pytest.param(event(name="x" * 513), 555, id="name-over-512"),
    pytest.param(event(Tags=["a"]), 555, id="list-property"),
    pytest.param(event(Address={"city": "x"}), 555, id="nested-property"),
    pytest.param(event(Note="x" * 513), 555, id="value-over-512-bytes"),
    pytest.param(event(**{f"p{n}": n for n in range(101)}), 555, id="over-100-properties"),
    pytest.param(event(name="Order Placed", Items=[{"Name": "a"}]), 555, id="items-not-charged"),
    pytest.param(event(name="Charged", Items=[{"Name": "a"}] * 51), 555, id="over-50-items"),
    pytest.param(event(name="Charged", Items=[{"Sizes": [1]}]), 555, id="nested-in-item"),
    pytest.param(event(name="Charged", Items=["Book"]), 555, id="item-not-object"),
]


@pytest.mark.parametrize(("bad", "code"), REFUSED)
def test_each_event_rule_refuses_at_its_position(emu, session, bad, code):
    body = upload(emu, session, [event("a"), bad, event("c")]).json()
    assert body["status"] == "partial" and body["processed"] == 2
    [refusal] = body["unprocessed"]
    assert refusal["code"] == code
    assert refusal["error"].endswith("Skipped record number : 2")
    assert set(emu.events()) == {"a", "c"}


def test_a_charged_event_with_items_is_stored_with_its_profile(emu, session):
    charged = event("buyer", "Charged", Amount=300, Items=[{"Category": "Books", "Name": "Book 1", "Quantity": 1}])
    assert upload(emu, session, [charged, event("buyer", "Order Placed")]).json()["status"] == "success"
    assert emu.events("buyer") == {"buyer": [charged, event("buyer", "Order Placed")]}
    assert emu.profile("buyer")["profileData"] == {}  # created by its events, as CleverTap does


def test_the_state_endpoint_lists_events_and_a_delete_forgets_them(emu, session):
    upload(emu, session, [event("a"), event("b")])
    state = session.get(f"{emu.url}/_emulator/state", params={"events": "1"}, timeout=10).json()
    assert state["events"] == {"a": [event("a")], "b": [event("b")]}
    assert state["stats"]["events_stored"] == 2
    session.post(f"{emu.url}/1/delete/profiles.json", json={"identity": ["a"]}, timeout=10)
    assert set(emu.events()) == {"b"}


def test_a_dry_run_stores_no_event(emu, session):
    session.post(f"{emu.url}/1/upload", params={"dryRun": "1"}, json={"d": [event()]}, timeout=10)
    assert emu.events() == {} and emu.stats.events_received == 1 and emu.stats.events_stored == 0


def test_discarded_event_names_are_refused_each_at_its_position(emu, session):
    emu.configure(faults=EmulatorFaults(discarded_events=("Old Event",)))
    body = upload(emu, session, [event("a", "Old Event"), event("b"), event("c", "Old Event")]).json()
    assert [entry["error"][-1] for entry in body["unprocessed"]] == ["1", "3"]
    assert set(emu.events()) == {"b"}


def test_process_then_drop_stores_the_batch_and_answers_nothing(emu, session):
    emu.configure(faults=EmulatorFaults(process_then_drop=(1,)))
    with pytest.raises(requests.ConnectionError):
        upload(emu, session, [event("a")])
    assert emu.events() == {"a": [event("a")]}  # stored, though no answer came
    assert emu.stats.dropped == 1
    assert upload(emu, session, [event("a")]).json()["status"] == "success"  # request 2 is answered
    assert emu.events("a") == {"a": [event("a"), event("a")]}  # a retry stores it twice: no de-duplication


def test_process_then_drop_takes_request_numbers_only():
    with pytest.raises(ValueError, match="process_then_drop"):
        EmulatorFaults(process_then_drop=(0,))
    assert EmulatorFaults.from_dict({"process_then_drop": [2, 3]}).process_then_drop == (2, 3)
