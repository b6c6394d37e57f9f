#!/bin/sh
# First start of the PostgreSQL container: one role per duty, no shared superuser.
#   temporal         owns Temporal's databases (temporal, temporal_visibility); their
#                    schema is the one-shot temporal-schema's (deploy/temporal/schema.sh)
#   register_owner   owns the dossier register: migrations and retention
#   register_worker  the worker: appends to the audit trail, never rewrites it
#                    (privileges granted to register_writer by migration 006)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE temporal LOGIN PASSWORD '${TEMPORAL_DB_PASSWORD}';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
CREATE ROLE register_owner LOGIN PASSWORD '${REGISTER_OWNER_PASSWORD}';
CREATE ROLE register_writer NOLOGIN;
CREATE ROLE register_worker LOGIN PASSWORD '${REGISTER_WORKER_PASSWORD}' IN ROLE register_writer;
CREATE DATABASE register OWNER register_owner;
REVOKE ALL ON DATABASE register FROM PUBLIC;
GRANT CONNECT ON DATABASE register TO register_worker;
SQL
for database in temporal temporal_visibility; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$database" <<SQL
ALTER SCHEMA public OWNER TO temporal;
SQL
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname register <<SQL
ALTER SCHEMA public OWNER TO register_owner;
SQL
