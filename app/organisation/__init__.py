"""Organisation: agency settings, units, users and the seven roles of SPEC §1."""
