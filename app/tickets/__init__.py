"""Nonconformities (5.1) and action-request tickets, form BM.CTCL.01 (5.2–5.7)."""
