"""edoc-gateway application code. Importable without AWS; heavy imports happen where they are used."""
