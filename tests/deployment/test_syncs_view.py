"""The syncs view in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright)
opens Airflow's UI of the test deployment, finds the user sync in the view and reads its chart and
table. Screenshots go to ``.artifacts/``: the view in Airflow, and its page whole, light and dark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _browser import TIMEOUT_MS, sign_in

from airflow_provider_clevertap.syncs_view.plugin import URL_PREFIX

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
DAG_ID, TASK_ID = "clevertap_user_sync", "upload_profiles"
# Counted in the chart's stacked bars and in the table (the table also has maybe duplicated).
CHARTED = ("rows_accepted", "rows_unchanged", "rows_invalid", "rows_refused", "profiles_deleted")
TABLED = (*CHARTED, "rows_maybe_duplicated")
# A page's background: its <html>'s or, when that is transparent, its <body>'s.
BACKGROUND = """[document.documentElement, document.body]
    .map((element) => getComputedStyle(element).backgroundColor)
    .find((color) => color !== "rgba(0, 0, 0, 0)")"""


def _summaries(deployment) -> dict[str, dict[str, Any]]:
    """Every finished run of the user sync and its summary XCom, read through Airflow's REST API."""
    runs = deployment.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100}).json()["dag_runs"]
    summaries = {}
    for run in runs:
        deployment.finished_run(DAG_ID, run["dag_run_id"])
        entry = deployment.api(
            "GET",
            f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/{TASK_ID}/xcomEntries/return_value",
        )
        if entry.status_code == 200:
            summaries[run["dag_run_id"]] = entry.json()["value"]
    return summaries


@pytest.mark.browser
def test_the_view_shows_the_counts_of_a_syncs_runs_in_its_chart_and_table(deployment, browser):
    from playwright.sync_api import expect

    triggered = [deployment.trigger(DAG_ID) for _ in range(2)]
    for run_id in triggered:
        assert deployment.finished_run(DAG_ID, run_id)["state"] == "success"
    summaries = _summaries(deployment)
    assert set(triggered) <= set(summaries)

    # The JSON the page reads is Airflow-authenticated: the browser has no session yet.
    page = browser.new_page()
    refused = page.goto(f"{deployment.url}{URL_PREFIX}/api/syncs")
    assert refused is not None and refused.status == 401

    # A read-only user signs in on Airflow's login page; the view is in Airflow's Browse menu.
    sign_in(page, deployment.url, "viewer", deployment.users["viewer"])
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="CleverTap syncs").click()
    view = page.frame_locator('iframe[title="CleverTap syncs"]')
    listed = view.locator(f'tr.sync[data-dag-id="{DAG_ID}"][data-task-id="{TASK_ID}"]')
    # The demo's rows include refused and invalid ones: the sync is flagged.
    assert "flagged" in listed.get_attribute("class")
    listed.locator("a").click()
    view.locator("#counts-chart svg g.run").first.wait_for()

    bars = view.locator("#counts-chart g.run")
    assert bars.count() == len(summaries)
    for run_id in triggered:
        summary = summaries[run_id]
        bar = view.locator(f'#counts-chart g.run[data-run-id="{run_id}"]')
        shown = {
            key: int(bar.locator(f'rect[data-series="{key}"]').get_attribute("data-value"))
            for key in CHARTED
            if bar.locator(f'rect[data-series="{key}"]').count()
        }
        assert shown == {key: summary[key] for key in CHARTED if summary[key]}
        row = view.locator(f'#runs tr[data-run-id="{run_id}"]')
        cells = {key: row.locator(f'td[data-series="{key}"]').inner_text() for key in TABLED}
        assert cells == {key: f"{summary[key]:,}" for key in TABLED}
    # The latest run's counts are written beside the chart, by name: no legend to look up.
    newest_first = [row.get_attribute("data-run-id") for row in view.locator("#runs tr[data-run-id]").all()]
    labels = view.locator("#counts-chart text.series").all_text_contents()
    assert f"sent {summaries[newest_first[0]]['rows_accepted']:,}" in labels
    # The latest failed rows: the sample of the newest run that has one (the demo's rows include
    # refused and invalid ones), identities, codes and reasons.
    sample = next(summaries[run_id]["failed_sample"] for run_id in newest_first if summaries[run_id]["failed_sample"])
    shown_rows = [row.locator("td").all_text_contents() for row in view.locator("#failed-rows tbody tr").all()]
    assert shown_rows == [
        [row["identity"] or "(no identity)", "invalid" if row["code"] is None else str(row["code"]), row["error"]]
        for row in sample
    ]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "syncs-view-in-airflow.png")
    # The view's background is Airflow's own, light; and dark once Airflow's colour mode (the class
    # its theme sets on <html>) is dark.
    airflow_background = {"light": page.evaluate(BACKGROUND)}
    expect(view.locator("body")).to_have_css("background-color", airflow_background["light"])
    page.evaluate("document.documentElement.classList.replace('light', 'dark')")
    airflow_background["dark"] = page.evaluate(BACKGROUND)
    assert airflow_background["dark"] != airflow_background["light"]
    expect(view.locator("body")).to_have_css("background-color", airflow_background["dark"], timeout=TIMEOUT_MS)
    page.screenshot(path=ARTIFACTS / "syncs-view-in-airflow-dark.png")

    # A run's log link opens the task's page in Airflow itself, not inside the frame.
    view.locator(f'#runs tr[data-run-id="{newest_first[0]}"] a', has_text="log").click()
    page.wait_for_url(f"**/dags/{DAG_ID}/runs/**/tasks/{TASK_ID}**")
    expect(page.locator('iframe[title="CleverTap syncs"]')).to_have_count(0, timeout=TIMEOUT_MS)
    # The DAG's page has the view too, for that DAG's syncs.
    page.goto(f"{deployment.url}/dags/{DAG_ID}/plugin/clevertap-dag-syncs")
    in_dag = page.frame_locator('iframe[title="CleverTap syncs"]').locator("tr.sync")
    in_dag.first.wait_for()
    assert {row.get_attribute("data-dag-id") for row in in_dag.all()} == {DAG_ID}

    # The whole page on its own (inside Airflow it scrolls in its frame), in both colour modes.
    page.goto(f"{deployment.url}{URL_PREFIX}/?dag_id={DAG_ID}&task_id={TASK_ID}&map_index=-1")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.locator("#failed-rows tbody tr").first.wait_for()
        # The colour scheme applies once the page restyles: wait for that, then compare.
        page.wait_for_function(
            f"(wanted) => ({BACKGROUND}) === wanted", arg=airflow_background[scheme], timeout=TIMEOUT_MS
        )
        assert page.evaluate(BACKGROUND) == airflow_background[scheme]
        page.screenshot(path=ARTIFACTS / f"syncs-view-{scheme}.png", full_page=True)
