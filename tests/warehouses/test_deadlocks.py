"""Which drivers' errors mean the warehouse ended a transaction to break a deadlock (the state's
writes are written again: ``writes.write_redoing_deadlocks``), and which stand. The drivers' own
exception classes, as they raise them."""

from __future__ import annotations

import pytest

from airflow_provider_clevertap.state.writes import TRANSACTION_ROLLBACK, _sqlstate

pytestmark = pytest.mark.warehouse  # mysqlclient comes with the warehouses extra


def test_a_mysqlclient_deadlock_is_written_again():
    """mysqlclient gives MariaDB's error number, not the SQLSTATE: its deadlock was never retried."""
    import MySQLdb

    error = MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
    assert _sqlstate(error) in TRANSACTION_ROLLBACK


def test_a_postgres_deadlock_is_written_again():
    import psycopg.errors

    assert _sqlstate(psycopg.errors.DeadlockDetected("deadlock detected")) in TRANSACTION_ROLLBACK


def test_other_mysqlclient_errors_stand():
    import MySQLdb

    assert _sqlstate(MySQLdb.OperationalError(1205, "Lock wait timeout exceeded")) is None
    assert _sqlstate(MySQLdb.ProgrammingError(1064, "You have an error in your SQL syntax")) is None
