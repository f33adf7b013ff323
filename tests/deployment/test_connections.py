"""The connection form and the Test button against the real API server, with the requests the UI makes."""

from __future__ import annotations

import json
import uuid

from _airflow_compat import connection_form_labels_choices

from airflow_provider_clevertap.get_provider_info import needs_port_0_for_test_button

PORT_0 = needs_port_0_for_test_button()


def _store_as_the_form_does(deployment, *, passcode: str, port: int | None) -> str:
    """A connection saved from the form: Account ID, Passcode, Host, Region, and Port where shown."""
    connection_id = f"clevertap_form_{uuid.uuid4().hex[:8]}"
    body = {
        "connection_id": connection_id,
        "conn_type": "clevertap",
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


def test_the_test_button_works_for_a_connection_filled_in_as_the_form_asks(deployment):
    connection_id = _store_as_the_form_does(
        deployment, passcode=deployment.emulator.passcode, port=0 if PORT_0 else None
    )

    response = _test_button(deployment, connection_id)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": True,
        "message": f"Connected to CleverTap at {deployment.emulator.url}: Account ID and Passcode accepted",
    }


def test_the_test_button_reports_a_wrong_passcode_with_the_status_once(deployment):
    connection_id = _store_as_the_form_does(deployment, passcode="not-the-passcode", port=0 if PORT_0 else None)

    answer = _test_button(deployment, connection_id).json()

    assert answer["status"] is False
    assert "HTTP 401" in answer["message"] and answer["message"].count("401") == 1
    assert "not-the-passcode" not in answer["message"]


def test_without_the_port_the_affected_versions_refuse_the_test(deployment):
    """Why the form asks for 0 on 3.3.1-3.3.2: the UI's request is refused before the hook runs."""
    connection_id = _store_as_the_form_does(deployment, passcode=deployment.emulator.passcode, port=None)

    response = _test_button(deployment, connection_id)

    if PORT_0:
        assert response.status_code == 400 and "differs from the stored connection" in response.text
    else:
        assert response.status_code == 200 and response.json()["status"] is True


def test_the_form_the_api_server_gives_the_ui(deployment):
    [meta] = [meta for meta in deployment.connection_forms if meta["connection_type"] == "clevertap"]
    region = meta["extra_fields"]["region"]
    if connection_form_labels_choices():
        assert region["schema"]["values_display"]["eu1"] == "Europe (eu1)"
    else:
        assert "Europe (eu1)" in region["description"]
    assert region["value"] == "eu1"
    port = meta["standard_fields"]["port"]
    assert port["hidden"] is not PORT_0
    if PORT_0:
        assert not port["placeholder"] and "type 0" in port["title"]
    assert len(meta["standard_fields"]["host"]["placeholder"]) <= 40
