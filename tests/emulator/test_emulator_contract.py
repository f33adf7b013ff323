"""The emulator keeps CleverTap's contract: auth, limits, per-record codes, response shapes.

Every test talks real HTTP to a running emulator and asserts against its state, not a mock.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_clevertap.emulator import CleverTapEmulator

UPLOAD = "/1/upload"
DELETE = "/1/delete/profiles.json"
PROFILE = "/1/profile.json"


def record(identity: Any = "user-1", **profile_data: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": identity, "ts": 1684450725, "profileData": profile_data}


def upload(emu: CleverTapEmulator, session: requests.Session, records: list[Any], **params: str) -> requests.Response:
    return session.post(emu.url + UPLOAD, json={"d": records}, params=params)


# -- auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"X-CleverTap-Account-Id": "TEST-ACCOUNT"}, "Passcode is not valid"),
        ({"X-CleverTap-Passcode": "test-passcode"}, "Account ID is not valid"),
        ({"X-CleverTap-Account-Id": "TEST-ACCOUNT", "X-CleverTap-Passcode": "wrong"}, "Passcode is not valid"),
        ({"X-CleverTap-Account-Id": "OTHER", "X-CleverTap-Passcode": "test-passcode"}, "Account ID is not valid"),
        ({}, "Account ID is not valid"),
    ],
)
@pytest.mark.parametrize("method,path", [("POST", UPLOAD), ("POST", DELETE), ("GET", PROFILE)])
def test_requests_without_both_matching_headers_answer_401(
    emu: CleverTapEmulator, headers: dict[str, str], error: str, method: str, path: str
) -> None:
    body = {"d": [record()]} if path == UPLOAD else {"identity": ["user-1"]}
    response = requests.request(method, emu.url + path, json=body, params={"identity": "user-1"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"status": "fail", "error": error, "code": 401}
    assert emu.stats.unauthorized == 1
    assert emu.profiles == {}


def test_both_headers_matching_are_accepted(emu: CleverTapEmulator, session: requests.Session) -> None:
    response = upload(emu, session, [record("a", Plan="gold"), record("b")])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "success", "processed": 2, "unprocessed": []}
    assert set(emu.profiles) == {"a", "b"}


# -- upload limits and malformed bodies --------------------------------------------------------


def test_more_than_1000_records_answer_400_and_store_nothing(emu: CleverTapEmulator, session: requests.Session) -> None:
    response = upload(emu, session, [record(f"u{i}") for i in range(1001)])
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "fail" and body["code"] == 400 and "1000" in body["error"]
    assert emu.profiles == {}
    stats = emu.stats
    assert stats.largest_batch == 1001
    assert stats.bad_requests == 1
    assert stats.records_received == 0


def test_exactly_1000_records_are_accepted(emu: CleverTapEmulator, session: requests.Session) -> None:
    response = upload(emu, session, [record(f"u{i}") for i in range(1000)])
    assert response.json() == {"status": "success", "processed": 1000, "unprocessed": []}
    assert len(emu.profiles) == 1000
    assert emu.stats.largest_batch == 1000
    assert emu.stats.records_stored == 1000


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"d": []}', b'{"d": {"a": 1}}', b'{"records": []}'])
def test_malformed_upload_bodies_answer_400(emu: CleverTapEmulator, session: requests.Session, body: bytes) -> None:
    response = session.post(emu.url + UPLOAD, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == "fail"
    assert response.json()["code"] == 400


# -- per-record validation ---------------------------------------------------------------------

REFUSED = [
    pytest.param({"type": "profile", "ts": 1684450725, "profileData": {}}, 523, id="identity-missing"),
    pytest.param({"type": "profile", "identity": "", "profileData": {}}, 523, id="identity-empty"),
    pytest.param({"type": "profile", "identity": True}, 523, id="identity-boolean"),
    pytest.param({"type": "profile", "identity": "a", "objectId": "__b"}, 523, id="identity-and-objectId"),
    pytest.param({"type": "user", "identity": "a"}, 524, id="type-unknown"),
    pytest.param({"identity": "a", "profileData": {}}, 524, id="type-missing"),
    pytest.param(["not", "a", "record"], 524, id="not-an-object"),
    pytest.param({"type": "profile", "identity": "a", "ts": 0}, 525, id="ts-zero"),
    pytest.param({"type": "profile", "identity": "a", "ts": -5}, 525, id="ts-negative"),
    pytest.param({"type": "profile", "identity": "a", "ts": "1684450725"}, 525, id="ts-string"),
    pytest.param({"type": "profile", "identity": "a", "ts": 1684450725000}, 525, id="ts-milliseconds"),
    pytest.param({"type": "profile", "identity": "a", "ts": 1684450725.5}, 525, id="ts-float"),
    pytest.param({"type": "profile", "identity": "a", "ts": None}, 525, id="ts-null"),
    pytest.param({"type": "profile", "objectId": 12345}, 526, id="objectId-not-string"),
    pytest.param(record(Email="jack.example.com"), 515, id="email-no-at"),
    pytest.param(record(Email="jack@example"), 515, id="email-no-domain"),
    pytest.param(record(Phone="14155551234"), 516, id="phone-no-plus"),
    pytest.param(record(Phone="+1415"), 516, id="phone-too-short"),
    pytest.param(record(Phone="+1234567890123456"), 516, id="phone-too-long"),
    pytest.param(record(Phone=14155551234), 516, id="phone-number"),
    pytest.param(record(Phone="+0441234567"), 516, id="phone-country-code-0"),
    pytest.param(record(Phone="+44 20 7946 0018"), 516, id="phone-with-spaces"),
    pytest.param(record(Phone="020 7946 0018"), 516, id="phone-national"),
    pytest.param(record(Gender="Male"), 514, id="gender"),
    pytest.param(record(Employed="yes"), 517, id="employed"),
    pytest.param(record(Education="PhD"), 518, id="education"),
    pytest.param(record(Married="maybe"), 519, id="married"),
    pytest.param(record(Age="30"), 520, id="age-string"),
    pytest.param(record(Age=True), 520, id="age-boolean"),
    pytest.param(record(Age=-1), 520, id="age-negative"),
    pytest.param(record(Gender="m"), 514, id="gender-lower-case"),
    pytest.param(record(Address={"city": "Sofia"}), 555, id="nested-object"),
    pytest.param(record(Tags=["a", {"b": 1}]), 555, id="object-in-array"),
    pytest.param(record(Scores=[1, 2]), 555, id="array-of-numbers"),
    pytest.param(record(Plan=None), 555, id="null-value"),
    pytest.param(record(**{"k" * 121: "v"}), 555, id="key-over-120-bytes"),
    pytest.param(record(**{"é" * 61: "v"}), 555, id="key-over-120-bytes-multibyte"),
    pytest.param(record(Bio="x" * 513), 555, id="value-over-512-bytes"),
    pytest.param(record(Bio="é" * 257), 555, id="value-over-512-bytes-multibyte"),
    pytest.param(record(Tags=["x" * 513]), 555, id="array-item-over-512-bytes"),
    pytest.param(record(DOB="1990-01-01"), 555, id="dob-not-a-date"),
    pytest.param(record(DOB=1487576752), 555, id="dob-a-number"),
    pytest.param(record(**{"MSG-email": "yes"}), 555, id="subscription-flag-not-boolean"),
    pytest.param(record(**{"MSG-dndPhone": 1}), 555, id="dnd-flag-not-boolean"),
    pytest.param({"type": "profile", "identity": "a", "profileData": ["x"]}, 555, id="profileData-not-object"),
    pytest.param(record(**{f"custom{i}": i for i in range(257)}), 555, id="over-256-custom-keys"),
    pytest.param({"type": "event", "identity": "a", "ts": 1700000000, "evtData": {}}, 555, id="event-without-name"),
]


@pytest.mark.parametrize(("bad", "code"), REFUSED)
def test_each_rule_refuses_with_its_code_and_position(
    emu: CleverTapEmulator, session: requests.Session, bad: Any, code: int
) -> None:
    response = upload(emu, session, [record("first"), bad, record("third")])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "partial"
    assert body["processed"] == 2
    [refusal] = body["unprocessed"]
    assert refusal["status"] == "fail"
    assert refusal["code"] == code
    assert refusal["error"].endswith("Skipped record number : 2")
    assert isinstance(refusal["record"], dict)
    assert set(emu.profiles) == {"first", "third"}


ACCEPTED = [
    pytest.param(record(Email="jack@example.com", Phone="+14155551234", Gender="F", Age=30.5), id="reserved-valid"),
    pytest.param(record(Employed="N", Married="Y", Education="Graduate", DOB="$D_1487576752"), id="more-reserved"),
    pytest.param(record(**{"MSG-push": True, "MSG-sms": False, "MSG-whatsapp": True}), id="subscription-flags"),
    pytest.param(record(**{"MSG-dndPhone": True, "MSG-dndEmail": False}), id="dnd-flags"),
    pytest.param(record(Phone="+919876543210", Name="Jack Montana", Age=0), id="phone-e164-india"),
    pytest.param(record(Tags=["a", "b"], Empty=[], Score=1.5, Active=False), id="value-types"),
    pytest.param(record(**{"k" * 120: "x" * 512}), id="limits-exactly"),
    pytest.param(record(**{"é" * 60: "é" * 256}), id="limits-exactly-multibyte"),
    pytest.param(record(**{f"custom{i}": i for i in range(256)}, Name="n", Email="a@b.co"), id="256-custom-keys"),
    pytest.param({"type": "profile", "identity": 13}, id="numeric-identity-no-ts-no-data"),
    pytest.param({"type": "profile", "objectId": "__abc"}, id="objectId"),
    pytest.param(
        {"type": "event", "identity": "a", "ts": 1700000000, "evtName": "Charged", "evtData": {"Amount": 3}}, id="event"
    ),
]


@pytest.mark.parametrize("good", ACCEPTED)
def test_valid_records_are_accepted(emu: CleverTapEmulator, session: requests.Session, good: Any) -> None:
    assert upload(emu, session, [good]).json() == {"status": "success", "processed": 1, "unprocessed": []}


def test_error_texts_keep_cleverTaps_separators(emu: CleverTapEmulator, session: requests.Session) -> None:
    body = upload(emu, session, [record(Email="bad"), {"type": "profile", "identity": "a", "ts": 0}]).json()
    # As recorded: a property message runs into the position, a record-level one has a space.
    assert [entry["error"] for entry in body["unprocessed"]] == [
        "Profile data is incorrect. Email is not valid.Skipped record number : 1",
        "Timestamp should be present in the Unix Epoch format. Skipped record number : 2",
    ]


def test_a_record_breaking_several_rules_gets_one_refusal_for_the_first(
    emu: CleverTapEmulator, session: requests.Session
) -> None:
    bad_ts_and_email = {"type": "profile", "identity": "a", "ts": 0, "profileData": {"Email": "bad"}}
    bad_email_then_phone = record(Email="bad", Phone="123")
    bad_phone_then_email = record(Phone="123", Email="bad")
    body = upload(emu, session, [bad_ts_and_email, bad_email_then_phone, bad_phone_then_email]).json()
    codes_and_positions = [(entry["code"], entry["error"][-1]) for entry in body["unprocessed"]]
    assert codes_and_positions == [(525, "1"), (515, "2"), (516, "3")]


def test_echoed_record_is_normalised_not_what_was_sent(emu: CleverTapEmulator, session: requests.Session) -> None:
    sent = {
        "type": "profile",
        "identity": 13,
        "ts": 1521649274,
        "profileData": {"Phone": "+35922333232", "Email": "not-an-email", "Plan": "gold"},
    }
    body = upload(emu, session, [record("ok"), sent, {"type": "profile", "identity": "x", "ts": 0}]).json()
    assert body["unprocessed"][0]["record"] == {
        "identity": "13",
        "ts": 1521649274,
        "type": "profile",
        "profileData": {"Phone": "35922333232", "Plan": "gold"},
    }
    # A record refused as a whole comes back empty, as in CleverTap's recorded 525 answer.
    assert body["unprocessed"][1]["record"] == {}


def test_all_refused_is_fail_with_processed_zero(emu: CleverTapEmulator, session: requests.Session) -> None:
    body = upload(emu, session, [record("a", Gender="X"), record("b", Age="old")]).json()
    assert body["status"] == "fail"
    assert body["processed"] == 0
    assert [entry["code"] for entry in body["unprocessed"]] == [514, 520]
    assert emu.profiles == {}


def test_events_are_stored_with_their_profile_which_they_create(
    emu: CleverTapEmulator, session: requests.Session
) -> None:
    event = {"type": "event", "identity": "a", "ts": 1700000000, "evtName": "Charged", "evtData": {"Amount": 3}}
    assert upload(emu, session, [event, record("b")]).json()["processed"] == 2
    assert set(emu.profiles) == {"a", "b"}  # an event for an unknown identity creates the profile
    assert emu.events() == {"a": [event]}
    assert emu.events("a") == {"a": [event]} and emu.events("b") == {}
    assert emu.stats.events_received == 1 and emu.stats.events_stored == 1
    assert emu.stats.records_stored == 1


# -- upsert ------------------------------------------------------------------------------------


def test_upload_upserts_merging_properties(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("jack", Name="Jack", Plan="gold", Tags=["a"])])
    first = emu.profile("jack")
    later = {"type": "profile", "identity": "jack", "ts": 1700000000, "profileData": {"Plan": "silver", "City": "X"}}
    upload(emu, session, [later])
    merged = emu.profile("jack")
    assert merged == {
        "identity": "jack",
        "guid": first["guid"],
        "ts": 1700000000,
        "profileData": {"Name": "Jack", "Plan": "silver", "Tags": ["a"], "City": "X"},
    }
    assert merged["guid"].startswith("__")
    assert len(emu.profiles) == 1
    assert emu.stats.records_stored == 2


def test_numeric_and_string_identities_name_the_same_profile(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record(13, A=1), record("13", B=2)])
    assert emu.profiles == {"13": {**emu.profile("13"), "profileData": {"A": 1, "B": 2}}}


def test_a_record_without_ts_is_stamped_with_the_upload_time(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [{"type": "profile", "identity": "a", "profileData": {"X": 1}}])
    assert emu.profile("a")["ts"] > 1684450725


def test_objectId_updates_the_profile_with_that_guid(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("jack", Plan="gold")])
    guid = emu.profile("jack")["guid"]
    upload(emu, session, [{"type": "profile", "objectId": guid, "profileData": {"Plan": "platinum"}}])
    assert emu.profile("jack")["profileData"] == {"Plan": "platinum"}
    # An objectId CleverTap has not seen makes a profile with no identity, keyed by guid.
    upload(emu, session, [{"type": "profile", "objectId": "__anon", "profileData": {"X": 1}}])
    assert emu.profiles["__anon"]["identity"] is None
    assert emu.profile("__anon") is None


def test_dry_run_validates_and_stores_nothing(emu: CleverTapEmulator, session: requests.Session) -> None:
    response = upload(emu, session, [record("a"), record("b", Email="bad")], dryRun="1")
    body = response.json()
    assert body["status"] == "partial" and body["processed"] == 1
    assert body["unprocessed"][0]["code"] == 515
    assert emu.profiles == {}
    stats = emu.stats
    assert (stats.dry_run_requests, stats.records_received, stats.records_stored) == (1, 2, 0)


# -- delete ------------------------------------------------------------------------------------


def test_delete_by_identity_removes_and_counts_unknown_ids(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a"), record("b"), record("c")])
    response = session.post(emu.url + DELETE, json={"identity": ["a", "b", "never-seen"]})
    assert response.status_code == 200
    assert response.json() == {"status": "success", "processed": 3}
    assert set(emu.profiles) == {"c"}
    assert (emu.stats.deletes, emu.stats.profiles_deleted) == (3, 2)


def test_delete_by_guid(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a"), record("b")])
    guid = emu.profile("a")["guid"]
    assert session.post(emu.url + DELETE, json={"guid": guid}).json() == {"status": "success", "processed": 1}
    assert set(emu.profiles) == {"b"}


def test_a_deleted_identity_uploaded_again_is_a_new_profile(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a", Plan="gold")])
    old_guid = emu.profile("a")["guid"]
    session.post(emu.url + DELETE, json={"identity": "a"})
    upload(emu, session, [record("a", City="Sofia")])
    assert emu.profile("a")["profileData"] == {"City": "Sofia"}
    assert emu.profile("a")["guid"] != old_guid


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"identity": ["a"], "guid": ["b"]}, id="both-keys"),
        pytest.param({"identity": [f"u{i}" for i in range(101)]}, id="101-ids"),
        pytest.param({"identity": []}, id="empty"),
        pytest.param({}, id="neither-key"),
        pytest.param({"identity": [{"nested": 1}]}, id="not-ids"),
        pytest.param(["a"], id="not-an-object"),
    ],
)
def test_bad_deletes_answer_400(emu: CleverTapEmulator, session: requests.Session, body: Any) -> None:
    upload(emu, session, [record("a")])
    response = session.post(emu.url + DELETE, json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "fail"
    assert set(emu.profiles) == {"a"}


def test_100_ids_are_accepted(emu: CleverTapEmulator, session: requests.Session) -> None:
    response = session.post(emu.url + DELETE, json={"identity": [f"u{i}" for i in range(100)]})
    assert response.json() == {"status": "success", "processed": 100}


# -- profile read ------------------------------------------------------------------------------


def test_profile_read_returns_the_stored_profile(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("jack", Plan="gold")])
    response = session.get(emu.url + PROFILE, params={"identity": "jack"})
    assert response.status_code == 200
    assert response.json() == {"status": "success", "record": emu.profile("jack")}
    by_guid = session.get(emu.url + PROFILE, params={"objectId": emu.profile("jack")["guid"]})
    assert by_guid.json()["record"]["identity"] == "jack"


def test_profile_read_of_unknown_or_unnamed_profile(emu: CleverTapEmulator, session: requests.Session) -> None:
    unknown = session.get(emu.url + PROFILE, params={"identity": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json() == {"status": "fail", "error": "Profile not found", "code": 404}
    assert session.get(emu.url + PROFILE).status_code == 400


# -- HTTP details ------------------------------------------------------------------------------


def test_unknown_paths_and_wrong_methods(emu: CleverTapEmulator, session: requests.Session) -> None:
    assert session.get(emu.url + UPLOAD).status_code == 405
    assert session.post(emu.url + "/1/nothing").status_code == 404
    assert emu.stats.requests == 0


def test_keep_alive_serves_many_requests_on_one_connection(emu: CleverTapEmulator) -> None:
    parts = urlsplit(emu.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    headers = {"X-CleverTap-Account-Id": emu.account_id, "X-CleverTap-Passcode": emu.passcode}
    try:
        for i in range(3):
            connection.request("POST", UPLOAD, body=json.dumps({"d": [record(f"u{i}")]}), headers=headers)
            response = connection.getresponse()
            assert response.status == 200
            response.read()
            assert not response.will_close
    finally:
        connection.close()
    assert len(emu.profiles) == 3


# -- inspection --------------------------------------------------------------------------------


def test_stats_count_requests_records_and_batches(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a"), record("b", Email="bad")])
    upload(emu, session, [record("c")])
    session.post(emu.url + DELETE, json={"identity": ["c"]})
    session.get(emu.url + PROFILE, params={"identity": "a"})
    stats = emu.stats
    assert stats.requests == 4
    assert stats.requests_by_endpoint == {"upload": 2, "delete": 1, "profile": 1}
    assert stats.responses_by_status == {200: 4}
    assert (stats.records_received, stats.records_stored, stats.largest_batch) == (3, 2, 2)
    assert (stats.max_in_flight, stats.in_flight) == (1, 0)
    assert stats["records_stored"] == 2
    with pytest.raises(KeyError):
        stats["nothing"]


def test_accessors_return_copies(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a", Tags=["x"])])
    profiles = emu.profiles
    profiles["a"]["profileData"]["Tags"].append("y")
    profiles["a"]["profileData"]["New"] = 1
    del profiles["a"]
    stats = emu.stats
    stats.requests_by_endpoint["upload"] = 99
    assert emu.profile("a")["profileData"] == {"Tags": ["x"]}
    assert emu.stats.requests_by_endpoint["upload"] == 1


def test_reset_forgets_profiles_and_stats(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a")])
    emu.reset()
    assert emu.profiles == {}
    assert emu.stats.requests == 0


def test_control_endpoints_need_no_auth_and_are_not_counted(emu: CleverTapEmulator, session: requests.Session) -> None:
    upload(emu, session, [record("a", Plan="gold")])
    state = requests.get(emu.url + "/_emulator/state").json()
    assert state["account_id"] == "TEST-ACCOUNT"
    assert state["stats"]["records_stored"] == 1
    assert state["faults"]["concurrency_limit"] == 15
    assert "profiles" not in state
    with_profiles = requests.get(emu.url + "/_emulator/state", params={"profiles": "1"}).json()
    assert with_profiles["profiles"]["a"]["profileData"] == {"Plan": "gold"}
    assert emu.stats.requests == 1

    assert requests.post(emu.url + "/_emulator/reset").json() == {"status": "success"}
    assert emu.profiles == {} and emu.stats.requests == 0


def test_configure_over_http(emu: CleverTapEmulator, session: requests.Session) -> None:
    options = {"passcode": "rotated", "latency": 0.01, "status_for_request": {"2": 503}}
    response = requests.post(emu.url + "/_emulator/configure", json=options)
    assert response.status_code == 200
    assert response.json()["faults"]["status_for_request"] == {"2": 503}
    assert emu.passcode == "rotated"
    assert emu.faults.latency == 0.01
    assert emu.faults.status_for_request == {2: 503}
    assert upload(emu, session, [record()]).status_code == 401
    # Without fault fields, the faults stay as they are.
    requests.post(emu.url + "/_emulator/configure", json={"passcode": "test-passcode"})
    assert emu.faults.latency == 0.01
    assert upload(emu, session, [record()]).status_code == 503


@pytest.mark.parametrize("body", [{"latency": -1}, {"throttle_ratio": 2}, {"no_such_option": 1}, ["x"]])
def test_configure_over_http_refuses_bad_options(emu: CleverTapEmulator, body: Any) -> None:
    response = requests.post(emu.url + "/_emulator/configure", json=body)
    assert response.status_code == 400
    assert emu.faults.latency == 0.0
