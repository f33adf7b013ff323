"""Provider registration: the entry point, the provider-info dict against Airflow's own schemas,
and discovery through Airflow's real ProvidersManager without connection-form deprecations."""

from __future__ import annotations

import json
import sys
import types
import warnings
from importlib.metadata import distribution, entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
from _airflow_compat import AIRFLOW, connection_form, connection_form_labels_choices, fresh_providers_managers
from packaging.utils import canonicalize_name
from packaging.version import Version

from airflow_provider_clevertap.get_provider_info import get_provider_info
from airflow_provider_clevertap.regions import REGION_LABELS

AIRFLOW_DIR = Path(airflow.__file__).parent
PACKAGE = "airflow-provider-clevertap"
HOOK_CLASS = "airflow_provider_clevertap.hooks.clevertap.CleverTapHook"
# From CleverTap's region table, not from regions.py.
REGIONS = {"eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"}


def _connection_type(info: dict) -> dict:
    [conn] = [c for c in info["connection-types"] if c["connection-type"] == "clevertap"]
    return conn


def test_the_entry_point_returns_the_provider_info():
    [entry] = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.dist and ep.dist.name.replace("_", "-") == PACKAGE
    ]
    info = entry.load()()

    assert info["package-name"] == PACKAGE
    # Airflow requires the canonical distribution name, or discovery raises.
    assert info["package-name"] == canonicalize_name(distribution(PACKAGE).metadata["Name"])
    assert distribution(PACKAGE).version in info["versions"]
    assert info == get_provider_info()


def test_the_provider_info_is_valid_against_airflows_schemas():
    info = get_provider_info()
    jsonschema.validate(info, json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text()))

    # provider_info.schema.json does not describe the connection form; provider.yaml.schema.json
    # does (conn-fields, ui-field-behaviour), and Airflow reads the same keys from the dict.
    yaml_schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    connection_type_schema = yaml_schema["properties"]["connection-types"]["items"]
    for conn in info["connection-types"]:
        jsonschema.validate(conn, connection_type_schema)


def test_the_connection_form():
    conn = _connection_type(get_provider_info())
    assert conn["hook-class-name"] == HOOK_CLASS

    region = conn["conn-fields"]["region"]
    assert region["label"] and region["description"]
    assert set(region["schema"]["enum"]) == REGIONS
    assert "string" in region["schema"]["type"]
    assert region["schema"].get("default", "eu1") == "eu1"
    assert "format" not in region["schema"]  # a dropdown, not a secret
    # Its collapsed section (Airflow 3.2+) is titled by what it holds, not "Extra Fields".
    assert region["schema"]["section"] == "CleverTap region"

    # Names, storing the codes.
    assert region["schema"]["values_display"] == {code: label for code, label in REGION_LABELS.items()}
    assert region["schema"]["values_display"]["eu1"] == "Europe (eu1)"

    behaviour = conn["ui-field-behaviour"]
    assert {key: behaviour["relabeling"][key] for key in ("login", "password")} == {
        "login": "Account ID",
        "password": "Passcode",
    }
    assert set(behaviour["hidden-fields"]) == {"schema", "port"}
    # Short enough for the input; the explanation is in the Region's description.
    assert 0 < len(behaviour["placeholders"]["host"]) <= 40
    assert "Host" in region["description"] and "overrides" in region["description"]
    assert not {"host", "login", "password", "extra"} & set(behaviour["hidden-fields"])


@pytest.fixture
def fresh_providers_manager(monkeypatch):
    """A ProvidersManager discovering from scratch (it is a process-wide singleton).

    A stand-in ``wtforms`` is installed because Airflow only reaches the deprecated
    hook-method path (and its warning) when wtforms imports; without it this test could
    never see the warning it looks for.
    """
    fake_wtforms = types.ModuleType("wtforms")
    for name in ("BooleanField", "IntegerField", "PasswordField", "StringField"):
        setattr(fake_wtforms, name, type(name, (), {}))
    monkeypatch.setitem(sys.modules, "wtforms", fake_wtforms)
    return fresh_providers_managers(monkeypatch)


def test_airflow_discovers_the_provider_without_deprecation_warnings(fresh_providers_manager):
    ProvidersManager, ProvidersManagerTaskRuntime = fresh_providers_manager

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = ProvidersManager()
        providers = manager.providers
        widgets = manager.connection_form_widgets
        behaviours = manager.field_behaviours
        hooks = ProvidersManagerTaskRuntime().hooks
        hook_info = hooks["clevertap"]

    # Airflow names the hook class in its deprecation warnings; other providers may warn.
    ours = [str(w.message) for w in caught if "clevertap" in str(w.message).lower()]
    assert ours == []

    assert providers[PACKAGE].version == distribution(PACKAGE).version
    assert hook_info.hook_class_name == HOOK_CLASS
    assert hook_info.connection_id_attribute_name == "clevertap_conn_id"
    assert hook_info.package_name == PACKAGE
    assert hook_info.connection_testable is True

    if AIRFLOW >= Version("3.2"):
        # Before 3.2 the form comes from the hook's WTForms fields, which only the API server (with
        # its stand-ins for WTForms and Flask) builds: test_the_ui_shows_the_connection_form_on_this_airflow.
        region = widgets["extra__clevertap__region"]
        assert region.hook_class_name == HOOK_CLASS
        assert set(region.field["schema"]["enum"]) == REGIONS
        assert region.field["description"]
        assert region.is_sensitive is False
        assert behaviours["clevertap"]["relabeling"]["login"] == "Account ID"
        assert behaviours["clevertap"]["relabeling"]["password"] == "Passcode"
        assert set(behaviours["clevertap"]["hidden_fields"]) == {"schema", "port"}
        assert behaviours["clevertap"]["placeholders"]["host"]


def test_the_ui_shows_the_connection_form_on_this_airflow(monkeypatch):
    """What the UI's connection form is built from, on the installed Airflow: from the provider info
    (3.2 and later) or from the hook's form methods (3.1), the same form."""
    declared = _connection_type(get_provider_info())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        form = connection_form("clevertap", monkeypatch)
    assert [str(w.message) for w in caught if "clevertap" in str(w.message).lower()] == []

    assert form["hook_class_name"] == HOOK_CLASS
    region = form["extra_fields"]["region"]
    assert set(region["schema"]["enum"]) == REGIONS
    assert region["schema"]["title"] == declared["conn-fields"]["region"]["label"]
    assert region["value"] == "eu1"
    assert region["description"]
    if connection_form_labels_choices():
        assert region["schema"]["values_display"]["in1"] == "India (in1)"
    else:
        assert "India (in1)" in region["description"]
    if AIRFLOW >= Version("3.2"):
        # The form titles the Region's section so, where it would say "Extra Fields"; 3.1's form
        # (from the hook's WTForms fields) has no sections.
        assert region["schema"]["section"] == "CleverTap region"
    fields = form["standard_fields"]
    assert fields["login"]["title"] == "Account ID" and fields["password"]["title"] == "Passcode"
    assert fields["url_schema"]["hidden"]
    # Hidden on every version, 3.3.1 and 3.3.2 included (their Test icon: portless_test).
    assert fields["port"]["hidden"]
    assert not any(fields[name]["hidden"] for name in ("host", "login", "password"))
    assert fields["host"]["placeholder"] == declared["ui-field-behaviour"]["placeholders"]["host"]


def test_the_hooks_form_methods_give_the_declared_form():
    from airflow_provider_clevertap.hooks.clevertap import CleverTapHook

    behaviour = _connection_type(get_provider_info())["ui-field-behaviour"]
    assert CleverTapHook.get_ui_field_behaviour() == {
        "hidden_fields": behaviour["hidden-fields"],
        "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"],
    }
