#!/bin/sh
# One-shot (admin-tools image, before the Temporal server starts): create Temporal's two
# PostgreSQL databases and bring their schemas to the version this image ships.
# Safe to re-run on every `docker compose up`: a database that already has a schema only
# gets `update-schema`; `setup-schema` (which resets the recorded version) runs only on a
# database that has none yet.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}" # the tool reads SQL_PASSWORD itself
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

for pair in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db="${pair%%:*}"
  dir="$SCHEMA_ROOT/${pair##*:}/versioned"
  if sql --db "$db" update-schema -d "$dir" >/dev/null 2>&1; then
    echo "$db: schema up to date"
    continue
  fi
  echo "$db: no schema yet, setting it up"
  # Postgres itself already created the database named after POSTGRES_USER.
  sql --db "$db" create >/dev/null 2>&1 || echo "$db: database exists"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$dir"
done
