"""Shared pieces of the reliability suite: the staged data, fast hooks, leak checks, thread checks."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

ACCOUNT_ID = "REL-ACCOUNT-01"
# Distinctive, so that a leak is found by a plain substring search.
PASSCODE = "rel-Pc9!xQ7#s3cret"
ROTATED_PASSCODE = "rot-Zz4!nEw#s3cret"

# Every staged row's personal data carries one of these markers: none may reach a log line,
# an exception message, an XCom value or a repr. Identities (``user-00001``) may.
NAME_MARKER = "Quuxworth"
EMAIL_DOMAIN = "privacy-probe.example"
PHONE_PREFIX = "+4915550"
PERSONAL_MARKERS = (NAME_MARKER, EMAIL_DOMAIN, PHONE_PREFIX, PHONE_PREFIX[1:])


def identity(n: int) -> str:
    return f"user-{n:05d}"


def person(n: int) -> tuple[str, str, str, str]:
    """(identity, Name, Email, Phone) of staged user ``n``: valid for CleverTap."""
    return identity(n), f"Ada {NAME_MARKER} {n}", f"ada.{n}@{EMAIL_DOMAIN}", f"{PHONE_PREFIX}{n:05d}"


def refused_email(n: int) -> str:
    """An email CleverTap refuses (code 515), still personal data that must not leak."""
    return f"ada.{n}@@{EMAIL_DOMAIN}"


def stage_users(path: Path, count: int, table: str = "users", bad_email_every: int = 0) -> list[str]:
    """A SQLite table of ``count`` users (every ``bad_email_every``-th with an email CleverTap
    refuses, the others valid); returns their identities in order."""
    rows = [(*person(n), "gold" if n % 2 else "free") for n in range(1, count + 1)]
    if bad_email_every:
        rows = [
            (ident, name, refused_email(n) if n % bad_email_every == 0 else email, phone, plan)
            for n, (ident, name, email, phone, plan) in enumerate(rows, start=1)
        ]
    with sqlite3.connect(path) as db:
        db.execute(f'CREATE TABLE {table} (identity TEXT, "Name" TEXT, "Email" TEXT, "Phone" TEXT, plan TEXT)')
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows)
    return [row[0] for row in rows]


class CountingHook(CleverTapHook):
    """A CleverTapHook that also measures, on the client side, how many requests it has in flight.

    Only counts around the real ``_send_once``: behaviour is unchanged. The emulator measures
    the same from the server side, but a server still sleeping on a request the client gave up
    on (read timeout) or whose connection it cut counts it a moment longer than the client does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count_lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.sent = 0

    def _send_once(self, *args: Any, **kwargs: Any) -> Any:
        with self._count_lock:
            self.in_flight += 1
            self.sent += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super()._send_once(*args, **kwargs)
        finally:
            with self._count_lock:
                self.in_flight -= 1


def fast_hook(operator: Any, **kwargs: Any) -> CountingHook:
    """Give ``operator`` a hook with millisecond back-off (as the brief's ``op._hook = ...``)."""
    kwargs.setdefault("max_concurrency", operator.max_concurrency)
    kwargs.setdefault("max_attempts", 12)
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_max", 0.2)
    kwargs.setdefault("connect_timeout", 2.0)
    kwargs.setdefault("read_timeout", 5.0)
    hook = CountingHook(operator.clevertap_conn_id, **kwargs)
    operator._hook = hook
    return hook


def in_thread(operator: Any, context: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``operator.execute(context)`` in a thread, as a task's main thread; the outcome dict
    gets its ``summary`` or the ``error`` that ended it."""
    outcome: dict[str, Any] = {}

    def task() -> None:
        try:
            outcome["summary"] = operator.execute(context)
        except BaseException as error:  # noqa: BLE001 - the test inspects whatever ended the task
            outcome["error"] = error

    runner = threading.Thread(target=task, name="task-execute")
    runner.start()
    return runner, outcome


def wait_until(condition: Any, timeout: float = 120.0) -> None:
    """Poll ``condition`` until true: a bound on a hang, returning as soon as it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run to get going"
        time.sleep(0.005)


def worker_threads() -> list[threading.Thread]:
    """The hook's batch workers still alive (the emulator's own thread is not one of them)."""
    return [
        thread
        for thread in threading.enumerate()
        if thread.name.startswith("clevertap") and not thread.name.startswith("clevertap-emulator")
    ]


def wait_for_no_workers(timeout: float = 60.0) -> list[threading.Thread]:
    deadline = time.monotonic() + timeout
    while (alive := worker_threads()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return alive


def leaks(texts: Iterable[str], secrets: Sequence[str] = (PASSCODE, ROTATED_PASSCODE)) -> list[str]:
    """Which secrets or personal-data markers appear in any of ``texts``."""
    found = []
    blob = "\n".join(texts)
    for needle in (*secrets, *PERSONAL_MARKERS):
        if needle in blob:
            found.append(needle)
    return found


def accounted(summary: dict[str, Any]) -> bool:
    """The summary's invariant: every row read is exactly one of invalid, accepted, refused, unchanged."""
    return summary["rows_read"] == (
        summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"] + summary["rows_unchanged"]
    )
