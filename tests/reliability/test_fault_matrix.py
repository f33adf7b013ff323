"""The fault matrix: each fault the emulator can inject, through the upload and delete operators,
over real HTTP.

For every fault the task must end as documented (succeed when the fault is transient, fail with a
clear message when it is not) within a bounded time and number of requests; every row the summary
counts accepted must really be stored (or deleted) in the emulator, and counted once even when its
batch was sent twice; no more than ``max_concurrency`` requests may be in flight; and neither the
passcode nor any profile value may reach the logs, the summary or the error.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from _reliability import (
    ROTATED_PASSCODE,
    accounted,
    fast_hook,
    identity,
    leaks,
    person,
    stage_users,
)
from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_clevertap.emulator import CleverTapEmulator, EmulatorFaults
from airflow_provider_clevertap.hooks.clevertap import CleverTapHook
from airflow_provider_clevertap.operators import CleverTapUserDeleteOperator, CleverTapUserUploadOperator

ROWS = 2000
BATCH = 100
BATCHES = ROWS // BATCH
MAX_ATTEMPTS = 12
BAD_EMAIL_EVERY = 97  # staged rows CleverTap refuses (code 515), in the upload runs
CONCURRENCY = {"upload": 4, "delete": 3}
TIME_LIMIT = 30.0  # catches a hang or a runaway retry loop; not a performance assertion


@dataclass(frozen=True)
class Case:
    """One row of the matrix.

    :param faults: what the emulator does; ``burst`` request numbers are relative to the
        task's first request.
    :param burst: ``(first, last, status)``: requests first..last of the task answer ``status``.
    :param hook: hook arguments besides the fast defaults.
    :param resends_processed: the fault makes the client re-send batches the server already
        processed (a read timeout on a slow answer), so the server receives more than the rows.
    :param server_may_overcount: the server keeps counting a request in flight after the
        client gave up on it (slow answers, cut connections), so only the client's count is
        held to ``max_concurrency`` exactly.
    :param min_seconds: the run must take at least this long (``Retry-After`` honoured).
    """

    faults: EmulatorFaults
    burst: tuple[int, int, int] | None = None
    hook: dict[str, Any] = field(default_factory=dict)
    resends_processed: bool = False
    server_may_overcount: bool = False
    min_seconds: float = 0.0


TRANSIENT = {
    # A burst of 12 consecutive 429s (every worker throttled together), then 15% at random.
    "429-burst": Case(EmulatorFaults(throttle_ratio=0.15, seed=11), burst=(5, 16, 429)),
    # 8 consecutive 429s asking to wait a second: the run cannot finish sooner.
    "429-burst-retry-after": Case(EmulatorFaults(retry_after=1, seed=12), burst=(5, 12, 429), min_seconds=1.0),
    "500-random": Case(EmulatorFaults(error_ratio=0.3, error_status=500, seed=13)),
    # More requests than the account allows at once: CleverTap's own 429 "Too many concurrent requests".
    "429-concurrency-limit": Case(EmulatorFaults(concurrency_limit=2, latency=0.005, seed=18)),
    "503-random": Case(EmulatorFaults(error_ratio=0.3, error_status=503, seed=14)),
    "dropped-connections": Case(EmulatorFaults(drop_ratio=0.3, seed=15), server_may_overcount=True),
    "slower-than-read-timeout": Case(
        EmulatorFaults(slow_ratio=0.3, slow_seconds=1.0, seed=16),
        hook={"read_timeout": 0.5},
        resends_processed=True,
        server_may_overcount=True,
    ),
    # Every transient fault at once: 1 - 0.92**4 = 28% of requests, plus a 429 burst: ~30%.
    "mixed-30pct": Case(
        EmulatorFaults(
            throttle_ratio=0.08,
            error_ratio=0.08,
            error_status=503,
            drop_ratio=0.08,
            slow_ratio=0.08,
            slow_seconds=1.0,
            seed=17,
        ),
        burst=(3, 6, 429),
        hook={"read_timeout": 0.5},
        resends_processed=True,
        server_may_overcount=True,
    ),
}


# -- running one operator against the emulator --------------------------------------------------


@dataclass
class Run:
    operator: Any
    hook: Any
    seconds: float
    summary: dict[str, Any] | None = None
    error: BaseException | None = None
    requests_before: int = 0


def seed_profiles(emu: CleverTapEmulator) -> None:
    """Store the staged users in the emulator (for the delete runs), fault-free and one at a time."""
    hook = CleverTapHook("clevertap_default", max_concurrency=1)
    try:
        records = (
            {"type": "profile", "identity": ident, "profileData": {"Name": name, "Email": email, "Phone": phone}}
            for ident, name, email, phone in (person(n) for n in range(1, ROWS + 1))
        )
        results = list(hook.upload_records(records, batch_size=1000))
    finally:
        hook.close()
    assert sum(result.accepted_count for result in results) == ROWS
    assert len(emu.profiles) == ROWS


def make_operator(kind: str) -> Any:
    common = {
        "task_id": f"{kind}_profiles",
        "source_conn_id": "warehouse",
        "sql": "SELECT * FROM users ORDER BY identity",
        "batch_size": BATCH,
        "max_concurrency": CONCURRENCY[kind],
        "max_failed_ratio": 0.05,  # the refused rows some runs stage must not fail the task
    }
    if kind == "upload":
        return CleverTapUserUploadOperator(**common)
    return CleverTapUserDeleteOperator(**common)


def run_with_faults(
    kind: str,
    emu: CleverTapEmulator,
    case: Case,
    context: dict[str, Any],
    rotate_after_requests: int | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Run:
    """Run the ``kind`` operator over the staged users while the emulator injects ``case``'s faults."""
    if kind == "delete":
        seed_profiles(emu)
    offset = emu.stats.requests
    faults = case.faults
    if case.burst is not None:
        first, last, status = case.burst
        faults = replace(faults, status_for_request={offset + n: status for n in range(first, last + 1)})
    emu.configure(faults=faults)
    operator = make_operator(kind)
    hook = fast_hook(operator, max_attempts=max_attempts, **case.hook)
    if rotate_after_requests:
        _rotate_passcode_after(emu, hook, rotate_after_requests)
    started = time.monotonic()
    run = Run(operator, hook, 0.0, requests_before=offset)
    try:
        run.summary = operator.execute(context)
    except AirflowException as error:
        run.error = error
    run.seconds = time.monotonic() - started
    return run


def _rotate_passcode_after(emu: CleverTapEmulator, hook: CleverTapHook, requests: int) -> None:
    """The first ``requests`` requests go out with the passcode the account has; once they have all
    been answered the account's passcode changes, and only then does any later request go out.
    Events, not latency: the rotation falls mid-run however fast or slow the machine is."""
    lock = threading.Lock()
    rotated = threading.Event()
    counts = {"started": 0, "answered": 0}
    send_once = hook._send_once

    def gated(*args: Any, **kwargs: Any) -> Any:
        with lock:
            counts["started"] += 1
            early = counts["started"] <= requests
        if not early:
            assert rotated.wait(60), "the first requests were never answered"
        try:
            return send_once(*args, **kwargs)
        finally:
            if early:
                with lock:
                    counts["answered"] += 1
                    if counts["answered"] == requests:
                        emu.configure(passcode=ROTATED_PASSCODE)
                        rotated.set()

    hook._send_once = gated  # type: ignore[method-assign]


def stored_outcome(kind: str, emu: CleverTapEmulator, identities: list[str]) -> set[str]:
    """The identities whose row really took effect: stored by an upload, gone after a delete."""
    profiles = emu.profiles
    if kind == "upload":
        return set(profiles) & set(identities)
    return set(identities) - set(profiles)


def logged_text(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> list[str]:
    out, err = capfd.readouterr()
    return [caplog.text, out, err, *(str(record.args) for record in caplog.records)]


_FAILURE_COUNTS = re.compile(
    r"stopped after (?P<read>\d+) rows read: (?P<accepted>\d+) accepted before the failure, "
    r"(?P<refused>\d+) refused, (?P<invalid>\d+) invalid, (?P<unconfirmed>\d+) unconfirmed"
)


def accepted_in_message(message: str) -> int:
    """The rows a failed task reports accepted; its counts must account for every row it read."""
    match = _FAILURE_COUNTS.search(message)
    assert match, f"the error does not account for the rows: {message}"
    counts = {key: int(value) for key, value in match.groupdict().items()}
    assert counts["read"] == counts["accepted"] + counts["refused"] + counts["invalid"] + counts["unconfirmed"]
    return counts["accepted"]


# -- transient faults: the task succeeds -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["upload", "delete"])
@pytest.mark.parametrize("name", list(TRANSIENT))
def test_transient_faults_end_in_success_with_every_row_once(
    name, kind, emu, sqlite_warehouse, context, task_logs, capfd
):
    case = TRANSIENT[name]
    # Some rows CleverTap refuses: a retried batch must count its refusals once too.
    identities = stage_users(sqlite_warehouse, ROWS, bad_email_every=BAD_EMAIL_EVERY)
    refused = {identity(n) for n in range(BAD_EMAIL_EVERY, ROWS + 1, BAD_EMAIL_EVERY)} if kind == "upload" else set()

    run = run_with_faults(kind, emu, case, context)

    assert run.error is None, f"{name}: the task failed: {run.error}"
    summary = run.summary
    stats = emu.stats
    # Ends as documented, in bounded time and attempts.
    assert case.min_seconds <= run.seconds < TIME_LIMIT
    assert summary["batches"] == BATCHES
    assert BATCHES <= summary["requests"] <= BATCHES * MAX_ATTEMPTS
    assert summary["retries"] == summary["requests"] - BATCHES
    assert summary["requests"] == run.hook.sent == stats.requests - run.requests_before
    assert summary["retries"] > 0, f"{name}: no fault was injected: the case proves nothing"
    # Accounting: every row exactly once, and really stored (or deleted).
    assert accounted(summary)
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_refused"], summary["rows_invalid"]) == (
        ROWS,
        ROWS - len(refused),
        len(refused),
        0,
    )
    assert stored_outcome(kind, emu, identities) == set(identities) - refused
    if kind == "upload":
        assert refused and {problem["code"] for problem in summary["failed_sample"]} == {515}
        assert emu.profile(identity(7))["profileData"]["Email"] == person(7)[2]
        received, processed_once = stats.records_received, stats.records_stored + len(refused)
    else:
        # Seeding uploaded; only this run deleted. A profile deleted twice is found only once.
        received, processed_once = stats.deletes, stats.profiles_deleted
        assert processed_once == ROWS
    if case.resends_processed:
        # The server processed some batches twice (the client timed out and re-sent them);
        # the summary still counts every row once.
        assert received > ROWS
        assert stats.slowed > 0
    else:
        assert received == ROWS
    assert processed_once >= ROWS
    # Concurrency: the client never had more requests in flight than allowed.
    limit = CONCURRENCY[kind]
    assert run.hook.max_in_flight <= limit
    if case.server_may_overcount:
        assert stats.max_in_flight <= limit + stats.slowed + stats.dropped
    else:
        assert stats.max_in_flight <= limit
        if case.faults.concurrency_limit >= limit:  # else the server's own 429s are the fault
            assert stats.concurrency_limited == 0
    # No secret, no profile value anywhere.
    texts = [*logged_text(task_logs, capfd), json.dumps(summary)]
    assert not leaks(texts)
    assert "retrying" in task_logs.text  # the retries were logged (so the leak check saw them)


# -- faults retries cannot fix: the task fails, clearly -----------------------------------------------


@pytest.mark.parametrize("kind", ["upload", "delete"])
def test_a_400_for_one_batch_fails_the_task_without_retrying_it(kind, emu, sqlite_warehouse, context, task_logs, capfd):
    identities = stage_users(sqlite_warehouse, ROWS)

    run = run_with_faults(kind, emu, Case(EmulatorFaults(seed=21), burst=(5, 5, 400)), context)

    assert isinstance(run.error, AirflowException)
    message = str(run.error)
    assert "HTTP 400" in message and f"CleverTap {kind}" in message
    assert run.seconds < TIME_LIMIT
    stats = emu.stats
    assert stats.bad_requests == 1, "a 400 was retried"
    # Batches in flight were finished, the rest were never sent: few requests after the failure.
    assert stats.requests - run.requests_before <= 5 + 2 * CONCURRENCY[kind]
    # What the message counts as accepted is exactly what the emulator took: none twice, none lost.
    took_effect = stored_outcome(kind, emu, identities)
    assert accepted_in_message(message) == len(took_effect) > 0
    assert len(took_effect) % BATCH == 0 and len(took_effect) < ROWS
    assert not leaks([message, *logged_text(task_logs, capfd)])


@pytest.mark.parametrize("kind", ["upload", "delete"])
def test_a_passcode_rotated_mid_run_fails_the_task_at_once(kind, emu, sqlite_warehouse, context, task_logs, capfd):
    identities = stage_users(sqlite_warehouse, ROWS)
    case = Case(EmulatorFaults(seed=22))

    # 6 of the 20 requests are answered before the rotation (at least 500 rows took effect).
    run = run_with_faults(kind, emu, case, context, rotate_after_requests=6)

    assert isinstance(run.error, AirflowException), "the run finished before the rotation: nothing proven"
    message = str(run.error)
    assert "HTTP 401" in message
    assert "Account ID, Passcode and region" in message
    assert run.seconds < TIME_LIMIT
    stats = emu.stats
    # 401 is never retried: at most the requests already started by other workers get one too.
    assert 1 <= stats.unauthorized <= CONCURRENCY[kind]
    took_effect = stored_outcome(kind, emu, identities)
    assert accepted_in_message(message) == len(took_effect)
    assert 500 <= len(took_effect) < ROWS
    # Neither the old nor the new passcode leaks, on this failure path in particular.
    assert not leaks([message, repr(run.error), *logged_text(task_logs, capfd)])


PERSISTENT = {
    "503-always": (Case(EmulatorFaults(error_ratio=1.0, error_status=503)), "HTTP 503"),
    "429-always": (Case(EmulatorFaults(throttle_ratio=1.0)), "HTTP 429"),
    "drops-always": (Case(EmulatorFaults(drop_ratio=1.0)), "connection failed"),
    "slow-always": (Case(EmulatorFaults(slow_ratio=1.0, slow_seconds=0.6), hook={"read_timeout": 0.2}), "timed out"),
}


@pytest.mark.parametrize("kind", ["upload", "delete"])
@pytest.mark.parametrize("name", list(PERSISTENT))
def test_faults_that_do_not_clear_fail_after_bounded_attempts(
    name, kind, emu, sqlite_warehouse, context, task_logs, capfd
):
    case, expected = PERSISTENT[name]
    identities = stage_users(sqlite_warehouse, ROWS)

    run = run_with_faults(kind, emu, case, context, max_attempts=3)

    assert isinstance(run.error, AirflowException), f"{name}: the task did not fail"
    message = str(run.error)
    assert expected in message and "after 3 attempts" in message, message
    assert run.seconds < TIME_LIMIT
    # The batches already started used up their attempts; no other batch was started.
    sent = emu.stats.requests - run.requests_before
    assert sent == run.hook.sent <= CONCURRENCY[kind] * 3
    assert accepted_in_message(message) == 0
    if name != "slow-always":  # a slow answer is still processed by the server after the client left
        assert not stored_outcome(kind, emu, identities)
    assert not leaks([message, *logged_text(task_logs, capfd)])
