"""Accounting (SyncReport): counts, the balanced sample, progress and summary lines."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_clevertap import results
from airflow_provider_clevertap.responses import BatchResult, Refusal
from airflow_provider_clevertap.results import Problem, SyncReport

LOG = logging.getLogger("test.clevertap.results")


def batch(identities: list[str], refused: list[Refusal] = (), attempts: int = 1) -> BatchResult:
    return BatchResult(identities, list(refused), attempts)


def test_every_row_is_counted_once():
    report = SyncReport("upload", False, LOG)
    report.rows_read = 7
    report.invalid("u0", "identity column 'identity' is empty")
    report.batch_done(batch(["u1", "u2", "u3"], [Refusal(1, 515, "Email is not valid")], attempts=3))
    report.batch_done(batch(["u4", "u5", "u6"], [Refusal(None, 555, "misc")]))

    summary = report.summary()
    assert (summary["rows_invalid"], summary["rows_accepted"], summary["rows_refused"]) == (1, 4, 2)
    assert summary["rows_read"] == 7 == summary["rows_invalid"] + summary["rows_accepted"] + summary["rows_refused"]
    assert (summary["batches"], summary["requests"], summary["retries"]) == (2, 4, 2)
    assert summary["failed_sample"] == [
        {"identity": "u0", "code": None, "error": "identity column 'identity' is empty"},
        {"identity": "u2", "code": 515, "error": "Email is not valid"},  # mapped by position
        {"identity": None, "code": 555, "error": "misc"},  # no position: counted, no identity
    ]
    assert report.rows_failed == 3
    assert json.loads(json.dumps(summary)) == summary


def test_a_dry_run_batch_makes_no_request_and_no_retry():
    report = SyncReport("delete", True, LOG)
    report.batch_done(BatchResult(["a", "b"], [], attempts=0))
    assert (report.requests, report.retries, report.rows_accepted) == (0, 0, 2)
    assert report.summary()["dry_run"] is True


def test_the_sample_is_capped_but_every_problem_can_be_kept():
    sampled = SyncReport("upload", False, LOG)
    kept = SyncReport("upload", False, LOG, keep_problems=True)
    for n in range(30):
        sampled.invalid(f"u{n}", "bad")
        kept.invalid(f"u{n}", "bad")
    assert len(sampled.problems) == len(sampled.summary()["failed_sample"]) == 20
    assert len(kept.problems) == 20  # in memory: the sample only
    assert [problem.identity for problem in kept.kept_problems()] == [f"u{n}" for n in range(30)]
    assert len(kept.summary()["failed_sample"]) == 20
    assert sampled.rows_invalid == kept.rows_invalid == 30


def test_kept_problems_come_back_exactly_and_in_order():
    report = SyncReport("upload", False, LOG, keep_problems=True)
    report.invalid("line\nbreak ☃", "identity column 'id' is empty")
    report.invalid(None, 'a "quoted"\treason')
    report.batch_done(
        BatchResult(["u1", "u2"], [Refusal(1, 515, "Email is not valid"), Refusal(None, None, "not stored")])
    )

    assert list(report.kept_problems()) == [
        Problem("line\nbreak ☃", None, "identity column 'id' is empty"),
        Problem(None, None, 'a "quoted"\treason'),
        Problem("u2", 515, "Email is not valid"),
        Problem(None, None, "not stored"),
    ]
    report.invalid("u3", "bad")  # noting more after reading back appends
    assert [problem.identity for problem in report.kept_problems()][-1] == "u3"
    report.close()


def test_describe_problems_names_identities_codes_and_reasons_of_both_kinds():
    report = SyncReport("upload", False, LOG)
    report.invalid(None, "identity column 'id' is null")
    for n in range(10):
        report.invalid(f"x{n}", "too long")
    report.batch_done(batch(["u1"], [Refusal(0, 516, "Phone is not valid")]))
    text = report.describe_problems()
    assert text == (
        "(no identity): identity column 'id' is null; x0: too long; x1: too long; x2: too long; x3: too long; "
        "u1: code 516, Phone is not valid"
    )  # six examples, not all twelve, the refusal among them although it came last


def test_the_sample_keeps_room_for_refusals_that_come_after_many_invalid_rows():
    # Invalid rows are found while reading, before any answer: they must not fill the sample.
    report = SyncReport("upload", False, LOG)
    for n in range(100):
        report.invalid(f"bad-{n}", "identity column 'id' is empty")
    report.batch_done(batch([f"u{n}" for n in range(30)], [Refusal(n, 515, "Email is not valid") for n in range(30)]))

    sample = report.summary()["failed_sample"]
    assert len(sample) == results.SAMPLE_SIZE
    assert [p["identity"] for p in sample if p["code"] is None] == [f"bad-{n}" for n in range(10)]
    assert [p["identity"] for p in sample if p["code"] == 515] == [f"u{n}" for n in range(10)]


@pytest.mark.parametrize(("invalid", "refused", "expected"), [(3, 40, (3, 17)), (40, 2, (18, 2)), (0, 0, (0, 0))])
def test_one_kind_short_leaves_its_room_to_the_other(invalid, refused, expected):
    report = SyncReport("upload", False, LOG)
    for n in range(invalid):
        report.invalid(f"bad-{n}", "empty")
    identities = [f"u{n}" for n in range(refused)]
    report.batch_done(batch(identities, [Refusal(n, 515, "Email is not valid") for n in range(refused)]))

    sample = report.summary()["failed_sample"]
    assert (sum(p["code"] is None for p in sample), sum(p["code"] == 515 for p in sample)) == expected


def test_an_unconfirmed_batch_is_counted_apart_and_named_in_the_log(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    report.rows_read = 5
    report.batch_done(batch(["u1", "u2"]))
    report.batch_done(BatchResult(["u3", "u4", "u5"], unconfirmed="the answer gives no status"))
    report.log_summary()

    summary = report.summary()
    assert (summary["rows_accepted"], summary["rows_refused"], summary["rows_unconfirmed"]) == (2, 0, 3)
    warning = next(record for record in caplog.records if record.levelno == logging.WARNING).getMessage()
    assert "a batch of 3 rows (u3 to u5) is unconfirmed: the answer gives no status" in warning
    assert "; 3 unconfirmed" in caplog.records[-1].getMessage()
    assert caplog.records[-1].levelno == logging.WARNING  # the summary line too


def test_the_summary_line_names_a_few_of_each_kind(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    for n in range(5):
        report.invalid(f"bad-{n}", "identity column 'id' is empty")
    report.batch_done(batch(["u1", "u2"], [Refusal(1, 515, "Email is not valid")]))
    report.log_summary()

    line = caplog.records[-1].getMessage()
    assert "; refused by code: 515 x1. invalid" in line
    assert line.endswith(
        ". invalid e.g. bad-0: identity column 'id' is empty; bad-1: identity column 'id' is empty; "
        "bad-2: identity column 'id' is empty. refused e.g. u2: code 515, Email is not valid"
    )


def test_a_stopped_sync_says_stopped_and_why(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    report.batch_done(batch(["u1"]))
    report.stopped("the task was killed")
    report.log_summary()

    line = caplog.records[-1].getMessage()
    assert line.startswith("CleverTap upload stopped (the task was killed): 0 rows read, 1 accepted")
    assert "finished" not in line


def test_progress_and_summary_lines(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger=LOG.name)
    monkeypatch.setattr(results, "PROGRESS_INTERVAL", 0.0)
    report = SyncReport("upload", True, LOG)
    report.rows_read = 4
    report.batch_done(batch(["u1", "u2"]))
    report.batch_done(batch(["u3", "u4"], [Refusal(0, 515, "Email is not valid")]))
    report.log_summary()

    messages = [record.getMessage() for record in caplog.records]
    assert len([m for m in messages if "progress" in m]) == 2
    assert messages[1].startswith("CleverTap upload progress: 4 rows read, 4 sent and answered")
    assert messages[-1].startswith(
        "CleverTap upload (dry run) finished: 4 rows read, 3 accepted, 1 refused by CleverTap, 0 invalid, "
        "2 batches, 2 requests, 0 retries"
    )


def test_no_progress_line_before_the_interval(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    report.batch_done(batch(["u1"]))
    assert not [record for record in caplog.records if "progress" in record.getMessage()]


def test_rows_that_did_not_make_it_make_the_summary_a_warning_with_counts_by_code(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    clean, failed = SyncReport("upload", False, LOG), SyncReport("upload", False, LOG)
    clean.batch_done(batch(["u1", "u2"]))
    failed.batch_done(batch(["u1", "u2", "u3"], [Refusal(0, 516, "Phone is not valid"), Refusal(2, 516, "Phone")]))
    failed.batch_done(batch(["u4", "u5"], [Refusal(1, 515, "Email is not valid")]))
    clean.log_summary()
    failed.log_summary()

    [clean_line, failed_line] = caplog.records
    assert clean_line.levelno == logging.INFO
    assert failed_line.levelno == logging.WARNING
    assert "2 accepted, 3 refused by CleverTap, 0 invalid" in failed_line.getMessage()
    assert "; refused by code: 516 x2, 515 x1." in failed_line.getMessage()


def test_invalid_rows_alone_make_the_summary_a_warning(caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("upload", False, LOG)
    report.rows_read = 1
    report.invalid("u1", "identity column 'id' is empty")
    report.log_summary()

    [line] = caplog.records
    assert line.levelno == logging.WARNING
    assert "refused by code" not in line.getMessage()


@pytest.mark.parametrize(("mirror", "says_deleted"), [(False, False), (True, True)])
def test_only_a_mirror_sync_reports_profiles_deleted(caplog, mirror, says_deleted):
    caplog.set_level(logging.INFO, logger=LOG.name)
    report = SyncReport("event upload", False, LOG)
    report.stateful, report.mirror = True, mirror
    report.log_summary()

    line = caplog.records[-1].getMessage()
    assert "0 unchanged (not sent)" in line
    assert ("profiles deleted" in line) is says_deleted
