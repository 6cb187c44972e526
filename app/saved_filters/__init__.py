"""Saved filters: a user keeps the filter of a list under a name and opens it again."""
