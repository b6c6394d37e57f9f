"""End to end: the Temporal dev server, a worker process and PostgreSQL, driven with plain JSON."""
