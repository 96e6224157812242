"""Storage: the schema, engines, migrations and every SQL statement, in one layer."""
