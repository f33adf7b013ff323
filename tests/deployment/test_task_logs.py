"""What a real task run's log (LocalExecutor, served by the API server) says, and does not say."""

from __future__ import annotations


def test_a_sync_task_log_has_no_short_secret_warning_and_no_secret(deployment):
    run_id = deployment.trigger("clevertap_user_sync", {"full_refresh": True})
    assert deployment.finished_run("clevertap_user_sync", run_id)["state"] == "success"

    log = deployment.task_log("clevertap_user_sync", run_id, "upload_profiles")

    lines = log.splitlines()
    ours = [n for n, line in enumerate(lines) if "CleverTap upload" in line]
    assert ours and "finished" in lines[ours[-1]]  # the task's own lines are there
    # "Skipping masking for a secret as it's too short" reads like a leaked secret. Airflow's own
    # connection lookup logs it (Connection.get_uri() hands every extra value, the region code
    # among them, to the secrets masker: see the README), once per task process, before the
    # hook's code runs; the hook hands the masker no extra value of its own
    # (tests/hooks/test_clevertap.py), so no later line says it.
    short = [n for n, line in enumerate(lines) if "Skipping masking for a secret" in line]
    assert len(short) <= 1 and all(n < ours[0] for n in short), short
    assert deployment.emulator.passcode not in log
    assert "Tenacity" not in log
