"""All I/O of the system: the PostgreSQL register (every statement on its dossier tables
in `register_gateway`), notifications and reference data. The activities are given what
they use; the worker wires them (`workers.main.worker_activities`)."""
