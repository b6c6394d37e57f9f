#!/bin/sh
# One-shot `temporal-schema` of docker-compose.yml, on temporalio/admin-tools: brings
# Temporal's two databases to the schema of the image's release. Run on every
# `docker compose up`, and so after an upgrade of the images: `setup-schema -v 0.0` only
# creates the version tables (it leaves a recorded version alone), `update-schema` applies
# the versions not applied yet, in order. The databases themselves, owned by the `temporal`
# role, come from deploy/postgres-init.sh.
# temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD.
set -eu
schemas=/etc/temporal/schema/postgresql/v12
for pair in temporal:temporal temporal_visibility:visibility; do
    database=${pair%%:*}
    versioned="$schemas/${pair#*:}/versioned"
    echo "temporal-schema: $database"
    temporal-sql-tool --db "$database" setup-schema -v 0.0
    temporal-sql-tool --db "$database" update-schema -d "$versioned"
done
echo "temporal-schema: done"
