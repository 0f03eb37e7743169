"""The hospital domain and the infrastructure it stands on (settings, database, unit of work)."""
