"""A small SQLite "warehouse" of staged customer rows, for the demo, the DAG tests and benchmarks.

Rows are realistic and deterministic (seeded): most are good profiles; a few every thousand are
ones CleverTap refuses (an invalid email, a phone without a country code, an unknown gender)
and a few have no identity, so every outcome of a sync shows up.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PLANS = ("free", "starter", "pro", "enterprise")
FIRST_NAMES = ("Ana", "Ben", "Chloé", "Dev", "Eitan", "Fatima", "Goran", "Hana", "Ivo", "Júlia", "Kenji", "Lea")
LAST_NAMES = ("Ivanova", "Smith", "Dubois", "Patel", "Cohen", "Haddad", "Novak", "Sato", "Horvat", "Silva")

# Within each block of 1000 rows: which positions carry a fault, and which fault.
# They fall in different partitions of `customer_key % 4` (see clevertap_partitioned_sync).
REFUSED_EMAIL, REFUSED_PHONE, REFUSED_GENDER, NO_IDENTITY = 17, 334, 651, 900

STAGED_CUSTOMERS_DDL = """
CREATE TABLE staged_customers (
    customer_key INTEGER PRIMARY KEY,
    customer_id TEXT,
    full_name TEXT,
    email TEXT,
    phone TEXT,
    gender TEXT,
    plan TEXT,
    lifetime_value NUMERIC,
    orders INTEGER,
    is_active BOOLEAN,
    signup_at TEXT,
    updated_at TEXT
)"""
STAGED_DELETIONS_DDL = "CREATE TABLE staged_deletions (customer_id TEXT, requested_at TEXT)"


def customer_rows(count: int, interval_start: dt.datetime, seed: int = 7) -> Iterator[tuple]:
    """``count`` staged customers updated within the day starting at ``interval_start`` (UTC)."""
    rng = random.Random(seed)
    for key in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        position = key % 1000
        customer_id = None if position == NO_IDENTITY else f"cust-{key:07d}"
        email = f"{first.lower()}.{last.lower()}{key}@example.com"
        phone = f"+4420{rng.randrange(10_000_000, 99_999_999)}"
        gender = rng.choice("MF")
        if position == REFUSED_EMAIL:
            email = "not-an-email"
        elif position == REFUSED_PHONE:
            phone = "020 7946 0018"
        elif position == REFUSED_GENDER:
            gender = "unknown"
        signup = interval_start - dt.timedelta(days=rng.randrange(1, 2000), seconds=rng.randrange(86400))
        updated = interval_start + dt.timedelta(seconds=rng.randrange(86400))
        yield (
            key,
            customer_id,
            f"{first} {last}",
            email,
            phone,
            gender,
            rng.choice(PLANS),
            round(rng.uniform(0, 5000), 2),
            rng.randrange(0, 200),
            rng.random() < 0.8,
            signup.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}Z",
            updated.strftime("%Y-%m-%d %H:%M:%S"),
        )


def expected_outcome(count: int) -> dict[str, int]:
    """How many of ``customer_rows(count, ...)`` CleverTap stores, refuses, or we report invalid."""
    positions = [key % 1000 for key in range(1, count + 1)]
    refused = sum(p in (REFUSED_EMAIL, REFUSED_PHONE, REFUSED_GENDER) for p in positions)
    invalid = sum(p == NO_IDENTITY for p in positions)
    return {
        "rows_read": count,
        "rows_accepted": count - refused - invalid,
        "rows_refused": refused,
        "rows_invalid": invalid,
    }


def build_warehouse(path: Path, customers: int, interval_start: dt.datetime, deletions: int = 0) -> Path:
    """Create (or recreate) the SQLite warehouse at ``path`` with staged customers and deletions."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(STAGED_CUSTOMERS_DDL)
        db.execute(STAGED_DELETIONS_DDL)
        db.executemany(
            "INSERT INTO staged_customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            customer_rows(customers, interval_start),
        )
        requested = (interval_start + dt.timedelta(hours=12)).strftime("%Y-%m-%d %H:%M:%S")
        db.executemany(
            "INSERT INTO staged_deletions VALUES (?, ?)",
            [(f"cust-{key:07d}", requested) for key in range(1, deletions + 1)],
        )
    return path


def postgres_connection(uri: str, extra: dict | None = None) -> str:
    """The Airflow connection (``AIRFLOW_CONN_...`` JSON) of a PostgreSQL warehouse at ``uri``."""
    parts = urlsplit(uri)
    connection: dict[str, Any] = {
        "conn_type": "postgres",
        "host": parts.hostname,
        "port": parts.port or 5432,
        "login": parts.username,
        "password": parts.password,
        "schema": parts.path.lstrip("/"),
    }
    if extra:
        connection["extra"] = extra
    return json.dumps(connection)
