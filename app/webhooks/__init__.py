"""Outbound webhooks: every workflow transition and every new nonconformity is POSTed as
signed JSON to the URLs an agency's administrator registered (models, services, views)."""
from app.webhooks.services import nonconformity_created, transition_taken

__all__ = ["nonconformity_created", "transition_taken"]
