"""The Sở KHCN compliance board (SPEC §10): how each agency applies the QMS in a year."""
