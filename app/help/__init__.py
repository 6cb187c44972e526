"""Help pages drawn from the workflow tables."""
