"""The connection form and the Test button against the real API server, with the requests the UI
makes, and in a real browser: the connections list's Test icon for a connection saved without a
port (Airflow 3.3.1 and 3.3.2 refuse it without the provider's ``portless_test``)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from _airflow_compat import AIRFLOW, connection_form_labels_choices
from _browser import sign_in
from packaging.version import Version

from airflow_provider_clevertap.portless_test import refuses_portless_test

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


def _store_as_the_form_does(deployment, *, passcode: str, port: int | None = None, conn_type: str = "clevertap") -> str:
    """A connection saved from the form: Account ID, Passcode, Host, Region; no port (the form hides it)."""
    connection_id = f"{conn_type}_form_{uuid.uuid4().hex[:8]}"
    body = {
        "connection_id": connection_id,
        "conn_type": conn_type,
        "host": deployment.emulator.url,
        "login": deployment.emulator.account_id,
        "password": passcode,
        "port": port,
        "extra": json.dumps({"region": "eu1"}),
    }
    response = deployment.api("POST", "/api/v2/connections", json=body)
    assert response.status_code == 201, response.text
    return connection_id


def _test_button(deployment, connection_id: str):
    """POST /api/v2/connections/test with the body the connections list's Test icon builds from the
    listed connection (airflow/ui: TestConnectionButton): blanks for missing text, Number(port)."""
    listed = deployment.api("GET", f"/api/v2/connections/{connection_id}").json()
    body = {
        "conn_type": listed["conn_type"],
        "connection_id": listed["connection_id"],
        "description": listed.get("description") or "",
        "extra": listed.get("extra") or "{}",
        "host": listed.get("host") or "",
        "login": listed.get("login") or "",
        "password": listed.get("password") or "",
        "port": listed["port"] or 0,  # Number(null) is 0
        "schema": listed.get("schema") or "",
    }
    return deployment.api("POST", "/api/v2/connections/test", json=body)


def _connected(deployment) -> str:
    return f"Connected to CleverTap at {deployment.emulator.url}: Account ID and Passcode accepted"


def test_the_test_button_works_for_a_connection_saved_without_a_port(deployment):
    connection_id = _store_as_the_form_does(deployment, passcode=deployment.emulator.passcode)

    response = _test_button(deployment, connection_id)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": True, "message": _connected(deployment)}


def test_the_test_button_works_for_a_connection_saved_with_port_0(deployment):
    """What the form asked for on 3.3.1 and 3.3.2 before the provider mended the Test icon."""
    connection_id = _store_as_the_form_does(deployment, passcode=deployment.emulator.passcode, port=0)

    assert _test_button(deployment, connection_id).json() == {"status": True, "message": _connected(deployment)}


def test_the_test_button_reports_a_wrong_passcode_with_the_status_once(deployment):
    connection_id = _store_as_the_form_does(deployment, passcode="not-the-passcode")

    answer = _test_button(deployment, connection_id).json()

    assert answer["status"] is False
    assert "HTTP 401" in answer["message"] and answer["message"].count("401") == 1
    assert "not-the-passcode" not in answer["message"]


def test_another_types_connection_without_a_port_keeps_airflows_own_answer(deployment):
    """The mend is the provider's, for its own type: 3.3.1 and 3.3.2 still refuse another type's
    Test icon for a connection without a port (Airflow's bug), and Airflow's check still runs."""
    connection_id = _store_as_the_form_does(deployment, passcode="unused", conn_type="generic")

    response = _test_button(deployment, connection_id)

    if refuses_portless_test():
        assert response.status_code == 400 and "differs from the stored connection" in response.text
    else:
        assert response.status_code == 200, response.text


def test_the_form_the_api_server_gives_the_ui(deployment):
    [meta] = [meta for meta in deployment.connection_forms if meta["connection_type"] == "clevertap"]
    region = meta["extra_fields"]["region"]
    if connection_form_labels_choices():
        assert region["schema"]["values_display"]["eu1"] == "Europe (eu1)"
    else:
        assert "Europe (eu1)" in region["description"]
    if AIRFLOW >= Version("3.2"):
        assert region["schema"]["section"] == "CleverTap region"
    assert region["value"] == "eu1"
    assert meta["standard_fields"]["port"]["hidden"]
    assert len(meta["standard_fields"]["host"]["placeholder"]) <= 40


@pytest.mark.browser
def test_the_test_icon_in_the_connections_list(deployment, browser):
    """An admin clicks the Test icon of a CleverTap connection saved without a port, and gets
    Airflow's success toast with the hook's message; the connection's form titles Region's section.
    Screenshot: ``.artifacts/connection-form.png``."""
    from playwright.sync_api import expect

    connection_id = _store_as_the_form_does(deployment, passcode=deployment.emulator.passcode)
    page = browser.new_page()
    sign_in(page, deployment.url, "admin", deployment.users["admin"])
    page.goto(f"{deployment.url}/connections")
    row = page.get_by_role("row").filter(has_text=connection_id)

    with page.expect_response(lambda response: response.url.endswith("/api/v2/connections/test")) as tested:
        row.get_by_role("button", name="Test Connection").click()

    assert tested.value.status == 200
    expect(page.get_by_text("Test Connection Successful")).to_be_visible()
    expect(page.get_by_text(_connected(deployment))).to_be_visible()

    row.get_by_role("button", name="Edit Connection").click()
    region = page.get_by_role("button", name="CleverTap region")
    expect(region).to_be_visible()
    region.click()
    expect(page.get_by_text("Europe (eu1)")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "connection-form.png", full_page=True)
