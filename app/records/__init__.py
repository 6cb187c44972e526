"""Records retention (VII): tickets past retention leave the database only into a verified archive."""
