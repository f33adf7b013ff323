"""Apache Airflow provider for CleverTap: sync warehouse rows into CleverTap user profiles."""

from __future__ import annotations

__version__ = "0.1.0"
