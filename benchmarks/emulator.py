"""The emulator in its own process, so that its CPU never counts as the syncing process's."""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

_READY = re.compile(r"CleverTap emulator ready at (\S+)\s+AIRFLOW_CONN_CLEVERTAP_DEFAULT='(.*)'")
_START_TIMEOUT = 30.0
_CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


class EmulatorProcess:
    """``python -m airflow_provider_clevertap.emulator`` with a latency and a concurrency limit.

    :param latency: seconds added to every API request.
    :param concurrency_limit: requests in flight above this answer 429 (15 is CleverTap's).
    :param log_path: where the emulator's stderr goes.
    :param cpus: the CPUs the emulator may run on (None: any).
    """

    def __init__(
        self,
        latency: float,
        concurrency_limit: int = 15,
        log_path: Path | None = None,
        cpus: set[int] | None = None,
    ) -> None:
        self.latency = latency
        self.concurrency_limit = concurrency_limit
        self.log_path = log_path
        self.cpus = cpus
        self.url = ""
        self.connection_json = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        stderr = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [
            sys.executable, "-m", "airflow_provider_clevertap.emulator", "--port", "0",
            "--latency", repr(self.latency), "--concurrency-limit", str(self.concurrency_limit),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        if self.cpus:
            os.sched_setaffinity(self._process.pid, self.cpus)
        if stderr is not subprocess.DEVNULL:
            stderr.close()  # the child holds its own copy
        line = self._read_line(_START_TIMEOUT)
        match = _READY.search(line)
        if match is None:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator did not start: {line!r} (see {self.log_path})")
        self.url, self.connection_json = match.group(1), match.group(2)
        return self

    def _read_line(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return ""
        return self._process.stdout.readline()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def stats(self) -> dict[str, Any]:
        """The emulator's counters (``GET /_emulator/state``)."""
        with urllib.request.urlopen(f"{self.url}/_emulator/state", timeout=30) as answer:
            return json.loads(answer.read())["stats"]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the emulator process has used so far."""
        assert self._process is not None
        fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is in flight (a client that timed out may leave one behind)."""
        deadline = time.monotonic() + timeout
        while self.stats()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
