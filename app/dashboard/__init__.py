"""The page each user lands on: what waits for them, and the procedure's figures for Ban ISO."""
