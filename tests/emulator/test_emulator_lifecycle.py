"""Starting and stopping the emulator, in-process and as a command, and persisting profiles."""

from __future__ import annotations

import gc
import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults

READY = re.compile(
    r"^CleverTap emulator ready at (http://127\.0\.0\.1:(\d+))  AIRFLOW_CONN_CLEVERTAP_DEFAULT='(\{.*\})'$"
)


def record(identity: str, **profile_data: Any) -> dict[str, Any]:
    return {"type": "profile", "identity": identity, "ts": 1684450725, "profileData": profile_data}


def auth(emu: CleverTapEmulator) -> dict[str, str]:
    return {"X-CleverTap-Account-Id": emu.account_id, "X-CleverTap-Passcode": emu.passcode}


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # The closed connections linger in TIME_WAIT; only a socket still listening blocks this.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_stop_leaves_no_thread_and_frees_the_port() -> None:
    before = set(threading.enumerate())
    emu = CleverTapEmulator().start()
    port = urlsplit(emu.url).port
    with requests.Session() as session:  # leaves an idle keep-alive connection open
        assert session.post(emu.url + "/1/upload", json={"d": [record("a")]}, headers=auth(emu)).status_code == 200
        emu.stop()
    assert set(threading.enumerate()) == before
    assert port_is_free(port)
    emu.stop()  # idempotent
    assert set(emu.profiles) == {"a"}  # still inspectable after stop


def test_stop_cuts_requests_that_outlive_the_grace_period() -> None:
    before = set(threading.enumerate())
    emu = CleverTapEmulator(faults=EmulatorFaults(slow_ratio=1.0, slow_seconds=30)).start()
    outcome: queue.Queue[object] = queue.Queue()

    def stuck_request() -> None:
        try:
            outcome.put(requests.post(emu.url + "/1/upload", json={"d": [record("a")]}, headers=auth(emu), timeout=20))
        except requests.ConnectionError as error:
            outcome.put(error)

    client = threading.Thread(target=stuck_request)
    client.start()
    while emu.stats.slowed == 0:
        threading.Event().wait(0.01)
    emu.stop()
    client.join(5)
    assert isinstance(outcome.get_nowait(), requests.ConnectionError)
    assert set(threading.enumerate()) == before


def test_start_twice_and_url_before_start_are_errors() -> None:
    emu = CleverTapEmulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    with emu:
        with pytest.raises(RuntimeError):
            emu.start()
    # A stopped emulator starts again, keeping its profiles.
    with emu:
        assert requests.get(emu.url + "/_emulator/state").status_code == 200


def test_connection_json_points_at_the_emulator() -> None:
    with CleverTapEmulator(account_id="ACC-1", passcode="pass-1") as emu:
        assert json.loads(emu.connection_json()) == {
            "conn_type": "clevertap",
            "login": "ACC-1",
            "password": "pass-1",
            "host": emu.url,
        }
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.url)


def test_parallel_clients_lose_no_update() -> None:
    with CleverTapEmulator() as emu:

        def send(worker: int) -> None:
            with requests.Session() as session:
                for batch in range(10):
                    records = [record(f"w{worker}-{batch}-{i}", Worker=worker) for i in range(50)]
                    response = session.post(emu.url + "/1/upload", json={"d": records}, headers=auth(emu))
                    assert response.status_code == 200

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(8)))
        assert len(emu.profiles) == 8 * 10 * 50
        assert emu.stats.records_stored == 4000
        assert 1 <= emu.stats.max_in_flight <= 8


def test_profiles_persist_to_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "emulator.db"
    with CleverTapEmulator(db_path=str(db)) as emu, requests.Session() as session:
        session.headers.update(auth(emu))
        session.post(emu.url + "/1/upload", json={"d": [record("a", Plan="gold"), record("b"), record("c")]})
        session.post(emu.url + "/1/upload", json={"d": [record("a", City="Sofia")]})
        session.post(emu.url + "/1/upload", json={"d": [record("dry")]}, params={"dryRun": "1"})
        session.post(emu.url + "/1/delete/profiles.json", json={"identity": ["b"]})
        guid_of_a = emu.profile("a")["guid"]

    with sqlite3.connect(db) as reader:
        rows = reader.execute("SELECT identity, guid, ts, profile_json FROM profiles ORDER BY identity").fetchall()
    assert [(identity, ts, json.loads(data)) for identity, _, ts, data in rows] == [
        ("a", 1684450725, {"Plan": "gold", "City": "Sofia"}),
        ("c", 1684450725, {}),
    ]
    assert rows[0][1] == guid_of_a

    # A new emulator on the same file starts with those profiles; reset empties the file too.
    with CleverTapEmulator(db_path=str(db)) as emu:
        assert set(emu.profiles) == {"a", "c"}
        assert emu.profile("a")["guid"] == guid_of_a
        emu.reset()
    with sqlite3.connect(db) as reader:
        assert reader.execute("SELECT count(*) FROM profiles").fetchone() == (0,)


def read_line(stream: Any, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


def test_command_line_prints_the_ready_line_and_serves_with_faults(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    command = [
        sys.executable, "-m", "airflow_provider_clevertap.emulator", "--port", "0",
        "--account-id", "CLI-ACC", "--passcode", "cli-pass", "--db", str(db),
        "--throttle-every", "2", "--retry-after", "1", "--status-for-request", "3=503",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        match = READY.match(read_line(process.stdout, timeout=20).rstrip("\n"))
        assert match, "no ready line"
        url, connection = match.group(1), json.loads(match.group(3))
        assert connection == {"conn_type": "clevertap", "login": "CLI-ACC", "password": "cli-pass", "host": url}

        headers = {"X-CleverTap-Account-Id": "CLI-ACC", "X-CleverTap-Passcode": "cli-pass"}
        answers = [
            requests.post(url + "/1/upload", json={"d": [record(f"u{i}")]}, headers=headers, timeout=5)
            for i in range(1, 6)
        ]
        assert [answer.status_code for answer in answers] == [200, 429, 503, 429, 200]
        assert answers[1].headers["Retry-After"] == "1"

        state = requests.get(url + "/_emulator/state", params={"profiles": "1"}, timeout=5).json()
        assert set(state["profiles"]) == {"u1", "u5"}
        assert state["stats"]["throttled"] == 2
        assert state["faults"]["throttle_every"] == 2
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=15)
    assert process.returncode == 0, errors
    with sqlite3.connect(db) as reader:
        assert {row[0] for row in reader.execute("SELECT identity FROM profiles")} == {"u1", "u5"}


def test_command_line_refuses_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_clevertap.emulator", "--throttle-ratio", "3"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "throttle_ratio" in result.stderr


def test_the_command_freezes_what_survives_out_of_the_collectors_view() -> None:
    """The emulator process keeps what it holds (stored profiles) out of full collections."""
    from airflow_provider_clevertap.emulator.__main__ import _freeze_survivors

    survivors = [{"profileData": {}} for _ in range(1000)]  # tracked containers, alive throughout
    stopping = threading.Event()
    stopping.set()  # one freeze, then it returns: the loop's first wait sees the event
    assert gc.get_freeze_count() == 0
    try:
        _freeze_survivors(stopping)
        assert gc.get_freeze_count() >= len(survivors)
        collected = {id(obj) for obj in gc.get_objects()}  # every generation a collection walks
        assert not any(id(survivor) in collected for survivor in survivors)
    finally:
        gc.unfreeze()  # this process is the test's: give its collector everything back
    assert all(gc.is_tracked(survivor) for survivor in survivors)
