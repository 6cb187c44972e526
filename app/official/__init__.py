"""Official copies of the approved documents and their digital signatures (SPEC §11)."""
