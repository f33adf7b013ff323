"""What a finished sync's counts decide: the task fails when rows are unconfirmed, or when too many
rows failed (invalid or refused). Either way the summary is kept as the XCom a success would return, so the
syncs view shows a failed run's counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_clevertap.results import SyncReport

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# The key of the XCom a task's return value is stored under: the summary's.
XCOM_RETURN_KEY = "return_value"


def check_unconfirmed(action: str, report: SyncReport, context: Context, summary: dict[str, Any]) -> None:
    """Fail the task, with Airflow's retries, when rows are unconfirmed.

    :param action: the operator's action, for the message.
    :param report: the sync's counts.
    :param context: the task's context (its task instance receives the summary).
    :param summary: the summary the task would have returned.
    """
    if report.rows_unconfirmed:
        keep_summary(context, summary)
        # CleverTap may not hold them: fail, with Airflow's retries, so that they are sent again.
        raise AirflowException(
            f"CleverTap {action}: {report.rows_unconfirmed} rows in {report.batches_unconfirmed} batches "
            "are unconfirmed: CleverTap's answers did not say which records it stored (the log names the "
            "batches). They are neither counted accepted nor recorded in a state, and are sent again by "
            "the next run"
        )


def check_failed_ratio(
    action: str, report: SyncReport, max_failed_ratio: float, context: Context, summary: dict[str, Any]
) -> None:
    """Fail the task, without retries, when too many rows failed (invalid or refused).

    :param action: the operator's action, for the message.
    :param report: the sync's counts.
    :param max_failed_ratio: the share of rows read that may be invalid or refused.
    :param context: the task's context (its task instance receives the summary).
    :param summary: the summary the task would have returned.
    """
    if not report.rows_read:
        return
    ratio = report.rows_failed / report.rows_read
    if ratio > max_failed_ratio:
        keep_summary(context, summary)
        # The data will not change on a retry: fail without Airflow retries.
        raise AirflowFailException(
            f"CleverTap {action}: {report.rows_failed} of {report.rows_read} rows failed "
            f"({report.rows_invalid} invalid, {report.rows_refused} refused; ratio {ratio:.4f} is above "
            f"max_failed_ratio {max_failed_ratio}); every other row was sent. "
            f"For example: {report.describe_problems()}"
        )


def keep_summary(context: Context, summary: dict[str, Any]) -> None:
    """Push ``summary`` as the XCom a success returns, before the task fails."""
    task_instance = context.get("ti")
    if task_instance is not None:
        task_instance.xcom_push(key=XCOM_RETURN_KEY, value=summary)
