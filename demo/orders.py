"""Staged orders and their items in the demo warehouse: the source of the event sync's Charged events.

Deterministic (seeded): one order in five was placed the day before the data interval, so a
scheduled run sends only the interval's orders; every order has one to three items.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

PRODUCTS = (
    ("Trail Shoes", "Footwear", 89.0),
    ("Rain Jacket", "Outerwear", 120.0),
    ("Wool Socks", "Accessories", 12.5),
    ("Day Pack", "Bags", 64.0),
    ("Water Bottle", "Accessories", 18.0),
)
STAGED_ORDERS_DDL = (
    "CREATE TABLE staged_orders (order_id TEXT, customer_id TEXT, amount NUMERIC, currency TEXT, ordered_at TEXT)"
)
STAGED_ORDER_ITEMS_DDL = (
    "CREATE TABLE staged_order_items (order_id TEXT, product TEXT, category TEXT, quantity INTEGER, price NUMERIC)"
)


def order_id(key: int) -> str:
    return f"ord-{key:07d}"


def in_interval(key: int) -> bool:
    """Whether order ``key`` was placed within the data interval (one in five was placed the day before)."""
    return key % 5 != 0


def customer_of(key: int, customers: int) -> str:
    return f"cust-{(key * 7) % customers + 1:07d}"


def stage_orders(path: Path, count: int, customers: int, interval_start: dt.datetime, seed: int = 11) -> None:
    """Add ``count`` orders of the staged customers, and their items, to the warehouse at ``path``."""
    rng = random.Random(seed)
    orders, items = [], []
    for key in range(1, count + 1):
        day = interval_start if in_interval(key) else interval_start - dt.timedelta(days=1)
        placed = day + dt.timedelta(seconds=rng.randrange(86400))
        amount = 0.0
        for product, category, price in rng.sample(PRODUCTS, rng.randint(1, 3)):
            quantity = rng.randint(1, 3)
            amount += quantity * price
            items.append((order_id(key), product, category, quantity, price))
        orders.append((order_id(key), customer_of(key, customers), amount, "EUR", placed.strftime("%Y-%m-%d %H:%M:%S")))
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE IF EXISTS staged_orders")
        db.execute("DROP TABLE IF EXISTS staged_order_items")
        db.execute(STAGED_ORDERS_DDL)
        db.execute(STAGED_ORDER_ITEMS_DDL)
        db.executemany("INSERT INTO staged_orders VALUES (?, ?, ?, ?, ?)", orders)
        db.executemany("INSERT INTO staged_order_items VALUES (?, ?, ?, ?, ?)", items)
