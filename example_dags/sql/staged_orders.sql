-- The orders placed in the run's data interval, each with its items as a JSON list (SQLite's JSON1
-- functions; another warehouse has its own: json_agg on PostgreSQL, ARRAY_AGG(OBJECT_CONSTRUCT())
-- on Snowflake). A run without a data interval (a manual trigger: Airflow 3 gives it none) reads
-- every staged order: the event ids make CleverTap receive only those it never accepted.
SELECT o.order_id, o.customer_id, o.amount, o.currency, o.ordered_at,
       json_group_array(json_object('Name', i.product, 'Category', i.category,
                                    'Quantity', i.quantity, 'Price', i.price)) AS items
FROM staged_orders o
JOIN staged_order_items i ON i.order_id = o.order_id
{% if data_interval_start is defined and data_interval_start is not none and data_interval_end is not none %}
WHERE o.ordered_at >= '{{ data_interval_start.strftime("%Y-%m-%d %H:%M:%S") }}'
  AND o.ordered_at < '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
{% endif %}
GROUP BY o.order_id, o.customer_id, o.amount, o.currency, o.ordered_at
