"""Reminders (`flask qms remind`): one digest a day per user, by e-mail and in the panel."""
