"""PostgreSQL access: engines (writer and optional reader), units of work, migrations."""
