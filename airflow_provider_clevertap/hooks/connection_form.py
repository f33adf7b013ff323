"""The connection form for Airflow before 3.2, built from the provider info's declarative one.

Airflow 3.2 and later read the form from ``get_provider_info()`` (``conn-fields`` and
``ui-field-behaviour``) and never call the hook's form methods when those are declared. Airflow
3.1 only calls ``CleverTapHook.get_connection_form_widgets`` and ``get_ui_field_behaviour``:
these functions give it the same form, from the same data.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.get_provider_info import get_provider_info

CONNECTION_TYPE = "clevertap"


def _declared_form() -> dict[str, Any]:
    [declared] = [
        connection_type
        for connection_type in get_provider_info()["connection-types"]
        if connection_type["connection-type"] == CONNECTION_TYPE
    ]
    return declared


def connection_form_widgets() -> dict[str, Any]:
    """The ``conn-fields`` as the WTForms fields Airflow 3.1 turns back into the form's JSON schema."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import Optional, any_of

    widgets = {}
    for name, field in _declared_form()["conn-fields"].items():
        schema = field["schema"]
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if "string" not in types or "format" in schema:
            raise TypeError(f"conn-fields {name!r}: only plain text fields are translated for Airflow 3.1")
        validators = [Optional()] if "null" in types else []
        if "enum" in schema:
            validators.append(any_of(schema["enum"]))
        description = field.get("description", "")
        if "values_display" in schema:
            # 3.1's form has no labels for a choice's values: the description names them.
            description = f"{description} Choices: {', '.join(schema['values_display'].values())}."
        widgets[name] = StringField(
            lazy_gettext(field["label"]),
            widget=BS3TextFieldWidget(),
            validators=validators,
            description=description,
            default=schema.get("default"),
        )
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """The ``ui-field-behaviour``, with the keys the hook method returns (``hidden_fields``, ...)."""
    behaviour = _declared_form()["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour.get("hidden-fields", [])),
        "relabeling": dict(behaviour.get("relabeling", {})),
        "placeholders": dict(behaviour.get("placeholders", {})),
    }
