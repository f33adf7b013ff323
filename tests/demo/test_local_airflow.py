"""`make airflow` (demo/local_airflow.py): a real ``airflow standalone`` with the emulator, then
``make airflow-stop`` (``--stop``) ends every process it started."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from _processes import process_groups

ROOT = Path(__file__).resolve().parents[2]
# Bounds on a hang, not waits: each check returns as soon as its condition holds.
READY_BOUND = 900.0
STOP_BOUND = 180.0


def _wait_for_line(log: Path, pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + READY_BOUND
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if found := re.search(pattern, text):
            return found
        if "exited" in text or "Traceback" in text:
            pytest.fail(f"the local Airflow did not start:\n{text[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"the local Airflow was not ready within {READY_BOUND:.0f} s:\n{log.read_text()[-4000:]}")


def _api(url: str, token: str | None = None, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_make_airflow_runs_a_ready_airflow_and_airflow_stop_ends_every_process(tmp_path):
    work = tmp_path / "local-airflow"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW"))}
    env["CLEVERTAP_AIRFLOW_DIR"] = str(work)
    with process_groups({"launcher": [sys.executable, "-m", "demo.local_airflow"]}, env, tmp_path) as [log]:
        ready = _wait_for_line(log, r"Airflow is ready at (http://\S+)  \(login: (\S+) / (\S+)\)")
        url, user, password = ready.groups()

        # The printed login works, and the pool and connections are there.
        token = _api(f"{url}/auth/token", body={"username": user, "password": password})["access_token"]
        pool = _api(f"{url}/api/v2/pools/clevertap", token)
        assert pool["slots"] == 15
        connection = _api(f"{url}/api/v2/connections/clevertap_default", token)
        assert connection["conn_type"] == "clevertap"
        assert _api(f"{url}/api/v2/connections/warehouse", token)["conn_type"] == "sqlite"
        # The connections list's Test icon: the listed connection, its port as Number(port).
        body = {key: connection.get(key) or "" for key in ("connection_id", "conn_type", "host", "login", "password")}
        test = _api(f"{url}/api/v2/connections/test", token, {**body, "port": int(connection["port"] or 0)})
        assert test["status"] is True, test

        launcher = psutil.Process(int((work / "launcher.pid").read_text()))
        started = [launcher, *launcher.children(recursive=True)]
        assert any("standalone" in " ".join(process.cmdline()) for process in started)

        stop = subprocess.run(
            [sys.executable, "-m", "demo.local_airflow", "--stop"],
            env=env,
            capture_output=True,
            text=True,
            timeout=STOP_BOUND,
            cwd=ROOT,
        )
        assert stop.returncode == 0, stop.stderr
        assert "Stopped." in stop.stdout
        gone, alive = psutil.wait_procs(started, timeout=STOP_BOUND)
        assert alive == [], [process.cmdline() for process in alive]
        assert log.read_text().rstrip().endswith("Stopped.")
        assert not (work / "launcher.pid").exists()
