"""tests/_processes.py: the process groups a test starts end with it, however the test ends.

Each group here is a leader that forks a worker, both ignoring SIGTERM (as a component busy in a
blocking call can): only the escalation to SIGKILL ends them, so these tests see it happen.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from _processes import process_groups

TESTS = Path(__file__).resolve().parent
# A bound on a hang, not a wait: each check returns as soon as the processes are gone.
BOUND = 120.0
# Leader and worker ignore SIGTERM (the worker inherits that); the leader logs both pids.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)'])\n"
    "print(worker.pid, flush=True)\n"
    "time.sleep(3600)\n",
]


def _started(logs: list[Path]) -> list[int]:
    """Every leader's pid and its worker's, once each leader has logged its worker."""
    deadline = time.monotonic() + BOUND
    while not all(log.exists() and log.read_text().strip() for log in logs):
        assert time.monotonic() < deadline, "the commands did not start"
        time.sleep(0.05)
    workers = [int(log.read_text()) for log in logs]
    leaders = [psutil.Process(worker).ppid() for worker in workers]
    return leaders + workers


def _running_after_the_bound(pids: list[int]) -> list[int]:
    """The processes of ``pids`` still running (a zombie has ended) once they are all gone, or after ``BOUND``."""

    def running() -> list[int]:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        return alive

    deadline = time.monotonic() + BOUND
    while (alive := running()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _assert_all_ended(pids: list[int]) -> None:
    running = _running_after_the_bound(pids)
    for pid in running:  # not left behind by a failing test
        os.kill(pid, signal.SIGKILL)
    assert running == []


def test_the_groups_end_with_the_block_even_when_the_test_fails_in_it(tmp_path):
    with pytest.raises(RuntimeError, match="the test failed"):
        with process_groups({"one": STUBBORN, "two": STUBBORN}, dict(os.environ), tmp_path, stop_timeout=1) as logs:
            pids = _started(logs)
            assert len(pids) == 4
            raise RuntimeError("the test failed")

    _assert_all_ended(pids)


def test_the_groups_end_when_the_test_process_is_killed(tmp_path):
    """SIGKILL: no ``finally``, no fixture teardown; the guard process stops the groups."""
    test_process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            f"sys.path.insert(0, {str(TESTS)!r})\n"
            "from pathlib import Path\n"
            "from _processes import process_groups\n"
            f"with process_groups({{'one': {STUBBORN!r}, 'two': {STUBBORN!r}}}, dict(os.environ),"
            f" Path({str(tmp_path)!r}), stop_timeout=1):\n"
            "    time.sleep(3600)\n",
        ]
    )
    try:
        pids = _started([tmp_path / "one.log", tmp_path / "two.log"])
    finally:
        test_process.kill()
        test_process.wait()

    assert len(pids) == 4
    _assert_all_ended(pids)
