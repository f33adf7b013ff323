-- Profiles staged for CleverTap, changed in the run's data interval (or all of them on a full refresh).
SELECT customer_id, full_name, email, phone, gender, plan, lifetime_value, orders,
       is_active, signup_at, updated_at
FROM staged_customers
{% if not params.full_refresh %}
WHERE updated_at >= '{{ data_interval_start.strftime("%Y-%m-%d %H:%M:%S") }}'
  AND updated_at < '{{ data_interval_end.strftime("%Y-%m-%d %H:%M:%S") }}'
{% endif %}
