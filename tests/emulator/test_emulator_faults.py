"""Each fault option does what it says, seen from a real HTTP client."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

UPLOAD = "/1/upload"
THROTTLED = {"status": "fail", "error": "Too many concurrent requests", "code": 429}


def record(identity: Any = "user-1", **profile_data: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": identity, "ts": 1684450725, "profileData": profile_data}


def upload(
    emu: CleverTapEmulator, session: requests.Session, identity: str = "user-1", **kwargs: Any
) -> requests.Response:
    return session.post(emu.url + UPLOAD, json={"d": [record(identity)]}, **kwargs)


def parallel_uploads(emu: CleverTapEmulator, count: int) -> list[requests.Response]:
    """Send ``count`` uploads at the same moment, each on its own connection."""
    start = threading.Barrier(count)
    headers = {"X-CleverTap-Account-Id": emu.account_id, "X-CleverTap-Passcode": emu.passcode}

    def send(i: int) -> requests.Response:
        start.wait()
        return requests.post(emu.url + UPLOAD, json={"d": [record(f"u{i}")]}, headers=headers, timeout=120)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


# -- concurrency -------------------------------------------------------------------------------


def test_requests_over_the_concurrency_limit_answer_429_at_once(emu: CleverTapEmulator) -> None:
    # The admitted ones are held until all five have arrived: the three over the limit can only
    # have been answered at once, before that.
    emu.configure(faults=EmulatorFaults(concurrency_limit=2, hold_until_requests=5))
    responses = parallel_uploads(emu, 5)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 429, 429, 429]
    refused = [response for response in responses if response.status_code == 429]
    assert all(response.json() == THROTTLED for response in refused)
    assert all("Retry-After" not in response.headers for response in refused)
    stats = emu.stats
    assert (stats.max_in_flight, stats.concurrency_limited, stats.throttled) == (2, 3, 3)
    assert len(emu.profiles) == 2


def test_cleverTaps_limit_of_15_is_the_default(emu: CleverTapEmulator) -> None:
    # Held until all 18 have arrived, so 15 are in flight together however busy the machine is.
    emu.configure(faults=EmulatorFaults(hold_until_requests=18))
    statuses = [response.status_code for response in parallel_uploads(emu, 18)]
    assert statuses.count(200) == 15 and statuses.count(429) == 3
    assert emu.stats.max_in_flight == 15


def test_held_requests_are_answered_together_once_enough_have_arrived(emu: CleverTapEmulator) -> None:
    emu.configure(faults=EmulatorFaults(hold_until_requests=10))
    responses = parallel_uploads(emu, 10)
    assert all(response.status_code == 200 for response in responses)
    assert emu.stats.max_in_flight == 10  # none was answered before the tenth arrived


def test_configuring_other_faults_releases_held_requests(emu: CleverTapEmulator) -> None:
    emu.configure(faults=EmulatorFaults(hold_until_requests=1000))
    headers = {"X-CleverTap-Account-Id": emu.account_id, "X-CleverTap-Passcode": emu.passcode}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.post, emu.url + UPLOAD, json={"d": [record("held")]}, headers=headers)
        while emu.stats.in_flight < 1:
            time.sleep(0.005)  # waiting for the request to arrive, not for time to pass
        assert not pending.done() and emu.profiles == {}
        emu.configure(faults=EmulatorFaults())
        assert pending.result(timeout=60).status_code == 200
    assert set(emu.profiles) == {"held"}


def test_requests_after_the_chosen_one_are_held_until_the_faults_change(emu: CleverTapEmulator) -> None:
    offset = emu.stats.requests
    emu.configure(faults=EmulatorFaults(hold_after_request=offset + 2))
    headers = {"X-CleverTap-Account-Id": emu.account_id, "X-CleverTap-Passcode": emu.passcode}
    for name in ("first", "second"):
        assert requests.post(emu.url + UPLOAD, json={"d": [record(name)]}, headers=headers, timeout=60).ok
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.post, emu.url + UPLOAD, json={"d": [record("third")]}, headers=headers)
        while emu.stats.in_flight < 1:
            time.sleep(0.005)  # waiting for the request to arrive, not for time to pass
        assert not pending.done() and set(emu.profiles) == {"first", "second"}
        emu.configure(faults=EmulatorFaults())
        assert pending.result(timeout=60).status_code == 200
    assert set(emu.profiles) == {"first", "second", "third"}


def test_latency_delays_each_request(emu: CleverTapEmulator) -> None:
    emu.configure(faults=EmulatorFaults(latency=0.2))
    responses = parallel_uploads(emu, 3)
    assert all(response.status_code == 200 for response in responses)
    assert all(response.elapsed.total_seconds() >= 0.2 for response in responses)  # a lower bound only


# -- injected 429s -----------------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (2, "2")])
def test_every_nth_request_answers_429(
    emu: CleverTapEmulator, session: requests.Session, retry_after: int | None, header: str | None
) -> None:
    emu.configure(faults=EmulatorFaults(throttle_every=3, retry_after=retry_after))
    responses = [upload(emu, session, f"u{i}") for i in range(1, 8)]
    assert [response.status_code for response in responses] == [200, 200, 429, 200, 200, 429, 200]
    assert responses[2].json() == THROTTLED
    assert responses[2].headers.get("Retry-After") == header
    assert emu.stats.throttled == 2
    assert set(emu.profiles) == {"u1", "u2", "u4", "u5", "u7"}


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (0, "0")])
def test_throttle_ratio_one_throttles_every_request(
    emu: CleverTapEmulator, session: requests.Session, retry_after: int | None, header: str | None
) -> None:
    emu.configure(faults=EmulatorFaults(throttle_ratio=1.0, retry_after=retry_after))
    responses = [upload(emu, session) for _ in range(3)]
    assert all(response.status_code == 429 for response in responses)
    assert all(response.headers.get("Retry-After") == header for response in responses)
    assert emu.profiles == {}


def test_ratio_faults_are_reproducible_with_a_seed(emu: CleverTapEmulator, session: requests.Session) -> None:
    emu.configure(faults=EmulatorFaults(throttle_ratio=0.3, error_ratio=0.3, seed=7))

    def run() -> list[int]:
        return [upload(emu, session, f"u{i}").status_code for i in range(40)]

    first = run()
    emu.reset()  # restarts the draws from the seed
    assert run() == first
    assert {200, 429, 503} <= set(first)
    assert 5 < first.count(200) < 35


# -- injected 5xx, drops, slow answers ---------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_error_ratio_answers_5xx(emu: CleverTapEmulator, session: requests.Session, status: int) -> None:
    emu.configure(faults=EmulatorFaults(error_ratio=1.0, error_status=status))
    response = upload(emu, session)
    assert response.status_code == status
    assert response.json()["status"] == "fail" and response.json()["code"] == status
    assert emu.stats.failed == 1
    assert emu.profiles == {}


def test_dropped_requests_are_connection_errors_not_http_answers(
    emu: CleverTapEmulator, session: requests.Session
) -> None:
    assert upload(emu, session, "before").status_code == 200  # a pooled keep-alive connection
    emu.configure(faults=EmulatorFaults(drop_ratio=1.0))
    with pytest.raises(requests.ConnectionError):
        upload(emu, session, "dropped")
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.url + UPLOAD, json={"d": [record("fresh")]}, headers=dict(session.headers))
    assert emu.stats.dropped == 2
    assert set(emu.profiles) == {"before"}
    emu.configure(faults=EmulatorFaults())
    assert upload(emu, session, "after").status_code == 200  # the session recovers


def test_slow_requests_time_clients_out_and_are_still_processed(
    emu: CleverTapEmulator, session: requests.Session
) -> None:
    emu.configure(faults=EmulatorFaults(slow_ratio=1.0, slow_seconds=0.4))
    with pytest.raises(requests.ReadTimeout):
        upload(emu, session, "slow", timeout=0.1)
    assert emu.profiles == {}
    deadline = time.monotonic() + 60  # a bound for a busy machine: the loop ends once it is stored
    while "slow" not in emu.profiles and time.monotonic() < deadline:
        time.sleep(0.02)
    # Like a real slow server, it stores the batch the client gave up on: a retry sends it twice.
    assert "slow" in emu.profiles
    assert emu.stats.slowed == 1
    emu.configure(faults=EmulatorFaults(slow_ratio=1.0, slow_seconds=0.1))
    response = upload(emu, session, "patient", timeout=5)
    assert response.status_code == 200 and response.elapsed.total_seconds() >= 0.1


def test_status_for_request_answers_exactly_those_requests(emu: CleverTapEmulator, session: requests.Session) -> None:
    emu.configure(faults=EmulatorFaults(status_for_request={2: 400, 3: 503, 5: 429}, retry_after=1))
    statuses = [upload(emu, session, f"u{i}") for i in range(1, 7)]
    assert [response.status_code for response in statuses] == [200, 400, 503, 200, 429, 200]
    assert statuses[1].json() == {"status": "fail", "error": "Bad request", "code": 400}
    assert statuses[4].headers["Retry-After"] == "1"
    assert set(emu.profiles) == {"u1", "u4", "u6"}
    stats = emu.stats
    assert (stats.bad_requests, stats.failed, stats.throttled) == (1, 1, 1)


def test_request_numbers_count_every_api_request(emu: CleverTapEmulator, session: requests.Session) -> None:
    emu.configure(faults=EmulatorFaults(status_for_request={3: 500}))
    assert requests.post(emu.url + UPLOAD, json={"d": [record()]}).status_code == 401  # request 1
    assert session.get(emu.url + "/1/profile.json", params={"identity": "x"}).status_code == 404  # request 2
    assert upload(emu, session).status_code == 500  # request 3
    assert upload(emu, session).status_code == 200


# -- credentials -------------------------------------------------------------------------------


def test_passcode_rotated_while_running(emu: CleverTapEmulator, session: requests.Session) -> None:
    assert upload(emu, session).status_code == 200
    emu.configure(passcode="rotated")
    response = upload(emu, session)
    assert response.status_code == 401
    assert response.json() == {"status": "fail", "error": "Passcode is not valid", "code": 401}
    assert '"password": "rotated"' in emu.connection_json()
    session.headers["X-CleverTap-Passcode"] = "rotated"
    assert upload(emu, session).status_code == 200


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"throttle_ratio": 1.5},
        {"drop_ratio": -0.1},
        {"latency": -1},
        {"throttle_every": -2},
        {"retry_after": 1.5},
        {"error_status": 404},
        {"concurrency_limit": 0},
        {"hold_until_requests": -1},
        {"status_for_request": {0: 500}},
        {"status_for_request": {1: 200}},
    ],
)
def test_invalid_fault_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EmulatorFaults(**options)


def test_fault_options_round_trip_through_json_shapes() -> None:
    faults = EmulatorFaults(latency=0.1, status_for_request={"3": "400"}, retry_after=2, seed=1)
    assert faults.status_for_request == {3: 400}
    assert EmulatorFaults.from_dict(faults.to_dict()) == faults
    with pytest.raises(ValueError, match="unknown fault options"):
        EmulatorFaults.from_dict({"latencyy": 1})
