"""The emulator's control endpoints: its state read, reset and configured, with no CleverTap auth,
not counted as API requests."""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.emulator import responses
from airflow_provider_clevertap.emulator.asgi import Scope, json_body, query_flag
from airflow_provider_clevertap.emulator.faults import FAULT_FIELDS, EmulatorFaults
from airflow_provider_clevertap.emulator.state import EmulatorState


def state_answer(state: EmulatorState, scope: Scope, body: bytes) -> tuple[int, bytes]:
    """The emulator's faults and counters, and with ``?profiles=1`` / ``?events=1`` what it stores."""
    answer: dict[str, Any] = {
        "account_id": state.account_id,
        "faults": state.faults.to_dict(),
        "stats": state.stats().as_dict(),
    }
    if query_flag(scope, "profiles"):
        answer["profiles"] = state.profiles()
    if query_flag(scope, "events"):
        answer["events"] = state.events()
    return 200, responses.encode(answer)


def reset(state: EmulatorState, scope: Scope, body: bytes) -> tuple[int, bytes]:
    """Forget every profile, event and counter."""
    state.reset()
    return 200, responses.encode({"status": "success"})


def configure(state: EmulatorState, scope: Scope, body: bytes) -> tuple[int, bytes]:
    """Change credentials and/or faults.

    Fault fields in the body replace the whole fault set (fields left out take their
    defaults), as ``configure(faults=EmulatorFaults(...))`` does; a body without any fault
    field leaves the faults alone.
    """
    payload = json_body(body)
    if not isinstance(payload, dict):
        return 400, responses.fail(400, "Body must be a JSON object")
    unknown = set(payload) - set(FAULT_FIELDS) - {"account_id", "passcode"}
    if unknown:
        return 400, responses.fail(400, f"Unknown options: {', '.join(sorted(unknown))}")
    fault_options = {key: value for key, value in payload.items() if key in FAULT_FIELDS}
    try:
        faults = EmulatorFaults.from_dict(fault_options) if fault_options else None
    except (TypeError, ValueError) as error:
        return 400, responses.fail(400, str(error))
    state.configure(account_id=payload.get("account_id"), passcode=payload.get("passcode"), faults=faults)
    return 200, responses.encode({"status": "success", "faults": state.faults.to_dict()})
