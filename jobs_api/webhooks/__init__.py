"""Completion webhooks: URL validation (``urls``), the delivery queue (``queue``), and the
signed, retried sender (``sender``), following the Standard Webhooks convention."""
