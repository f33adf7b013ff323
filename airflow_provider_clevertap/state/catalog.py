"""A dry run's read-only check of a table a real run would create or write: the failed-rows table
and the state table alike.

A dry run writes nothing, so it cannot try the table as a real run does; what it can tell by
reading fails as the real run would, before the first request: a name that is no plain table
name, a table the connection may not read, a schema that does not exist for the table a real run
would create (``CleverTapConfigError``, which Airflow does not retry). A table that is simply not
there yet, in a schema that is, passes: the real run creates it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_clevertap.exceptions import CleverTapConfigError, driver_error
from airflow_provider_clevertap.state.dialects import check_table_name, dialect_of
from airflow_provider_clevertap.state.table import describe


def check_name_and_connection(hook: Any, table: str, role: str, action: str) -> None:
    """A name that is no plain table name fails for good; a warehouse that cannot be reached, with
    an error Airflow retries.

    :param hook: the source connection's SQL hook.
    :param table: the table's ``[schema.]table`` name.
    :param role: the parameter that names it (``state_table``, ``failed_rows_table``), and
    :param action: the operator's action, for the error's message.
    """
    try:
        check_table_name(table, role)
    except ValueError as error:
        raise CleverTapConfigError(f"CleverTap {action}: {error}; nothing was sent") from None
    hook.get_conn().close()


def check_for_dry_run(hook: Any, table: str, role: str, action: str, conn_id: str | None) -> bool:
    """Check ``table`` before a dry run's first request, reading only: return whether it is there.

    The table's columns are read; only where that fails is the warehouse's catalog asked why
    (``Dialect.table_exists``, ``Dialect.schema_exists``). Whether the connection may write is
    left to the real run. The error names the table and the driver's reason, never a row.

    :param hook: the source connection's SQL hook.
    :param table: the table's ``[schema.]table`` name.
    :param role: the parameter that names it (``state_table``, ``failed_rows_table``),
    :param action: the operator's action, and
    :param conn_id: the source connection, for the error's message.
    """
    check_name_and_connection(hook, table, role, action)
    try:
        describe(hook, f"SELECT * FROM {table}", None)
        return True
    except Exception as error:  # each driver has its own errors
        unread = driver_error(error)
    try:
        problem = _why_unread(hook, table)
    except Exception as error:
        problem = f"cannot be read, nor its schema found in the catalog ({driver_error(error)})"
    if problem is not None:
        raise CleverTapConfigError(
            f"CleverTap {action}: {role} {table!r} {problem} (connection {conn_id!r}, reading it: "
            f"{unread}); nothing was sent"
        ) from None
    return False


def _why_unread(hook: Any, table: str) -> str | None:
    """Why a table that could not be read is wrong for a real run, by the warehouse's catalog; None
    where it is not there and a real run would create it (or the warehouse has no catalog to ask)."""
    dialect = dialect_of(hook)
    *qualifiers, bare = table.split(".")
    schema = f"'{qualifiers[-1]}'" if qualifiers else dialect.current_schema  # plain names: no quote
    prefix = f"{qualifiers[0]}." if len(qualifiers) == 2 else ""
    names = {"schema": schema, "table": bare, "prefix": prefix, "qualifier": ".".join(qualifiers)}
    if dialect.table_exists is not None and hook.get_first(dialect.table_exists.format(**names)):
        return "is there but cannot be read"
    if qualifiers and dialect.schema_exists is not None and not hook.get_first(dialect.schema_exists.format(**names)):
        return f"cannot be created: schema {qualifiers[-1]!r} does not exist"
    return None
