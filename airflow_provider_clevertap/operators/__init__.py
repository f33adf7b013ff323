"""The CleverTap operators."""

from airflow_provider_clevertap.operators.event_upload import CleverTapEventUploadOperator
from airflow_provider_clevertap.operators.user_delete import CleverTapUserDeleteOperator
from airflow_provider_clevertap.operators.user_upload import CleverTapUserUploadOperator

__all__ = ["CleverTapEventUploadOperator", "CleverTapUserDeleteOperator", "CleverTapUserUploadOperator"]
