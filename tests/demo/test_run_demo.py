"""demo/run_demo.py's log lines: the summary line whole, without the time and the logger."""

from __future__ import annotations

from demo.run_demo import summary_line

LINE = (
    "2026-12-06T15:15:38.414628Z [warning  ] CleverTap upload finished: 3000 rows read, 2988 accepted, "
    "9 refused by CleverTap, 3 invalid, 3 batches, 3 requests, 0 retries, 0.2 s; refused by code: 515 x3. "
    "invalid e.g. (no identity): identity column 'customer_id' is null "
    "[airflow.task.operators.airflow_provider_clevertap.operators.user_upload.CleverTapUserUploadOperator] "
    "loc=results.py:199"
)


def test_the_summary_line_is_kept_whole_without_time_and_logger():
    assert summary_line(LINE) == (
        "CleverTap upload finished: 3000 rows read, 2988 accepted, 9 refused by CleverTap, 3 invalid, "
        "3 batches, 3 requests, 0 retries, 0.2 s; refused by code: 515 x3. "
        "invalid e.g. (no identity): identity column 'customer_id' is null"
    )


def test_other_lines_are_left_out():
    assert (
        summary_line("2026-12-06T15:15:38Z [info] CleverTap upload: reading columns a, b [x.Y] loc=base.py:1") is None
    )
    assert summary_line(LINE.replace("upload finished", "event upload (dry run) stopped (the task was killed)"))
