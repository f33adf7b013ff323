"""The "CleverTap syncs" view in Airflow's UI: every CleverTap sync, its runs and its failed rows."""
