"""The CleverTap operators."""

from airflow_provider_clevertap.operators.user_delete import CleverTapUserDeleteOperator
from airflow_provider_clevertap.operators.user_upload import CleverTapUserUploadOperator

__all__ = ["CleverTapUserDeleteOperator", "CleverTapUserUploadOperator"]
