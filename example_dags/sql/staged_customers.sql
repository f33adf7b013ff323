-- Profiles staged for CleverTap: all of them. The sync's state finds the ones CleverTap does not hold yet.
SELECT customer_id, full_name, email, phone, gender, plan, lifetime_value, orders,
       is_active, signup_at, updated_at
FROM staged_customers
