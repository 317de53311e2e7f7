#!/bin/sh
# First start of the PostgreSQL of the production profile (the official image runs this once, from
# /docker-entrypoint-initdb.d, on an empty data directory). Creates:
#   - the owner of the AION schemas (PG_OWNER_USER, may create roles): `aion db upgrade` connects as it
#     (AION_DATABASE_ADMIN_URL), migrates the database PG_AION_DB and creates the application role
#     named in AION_DATABASE_URL (no superuser, no BYPASSRLS: it stays under row-level security);
#   - Dagster's own database AION_DAGSTER_PG_DB and its role AION_DAGSTER_PG_USER (dagster.yaml).
# Passwords come from the container's environment (deploy/env/postgres.env), never from this file.
set -eu

: "${PG_OWNER_USER:=aion_owner}"
: "${PG_AION_DB:=aion}"
: "${AION_DAGSTER_PG_USER:=dagster}"
: "${AION_DAGSTER_PG_DB:=dagster}"
: "${PG_OWNER_PASSWORD:?set PG_OWNER_PASSWORD in deploy/env/postgres.env}"
: "${AION_DAGSTER_PG_PASSWORD:?set AION_DAGSTER_PG_PASSWORD in deploy/env/postgres.env}"

# The application role connects to PG_AION_DB through PUBLIC's default CONNECT; only Dagster's
# database is closed to other roles.
# psql variables (:'name' quotes a literal, :"name" an identifier): no password is spliced into SQL text.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="$PG_OWNER_USER" -v owner_pw="$PG_OWNER_PASSWORD" -v aion_db="$PG_AION_DB" \
  -v dagster="$AION_DAGSTER_PG_USER" -v dagster_pw="$AION_DAGSTER_PG_PASSWORD" -v dagster_db="$AION_DAGSTER_PG_DB" <<'SQL'
CREATE ROLE :"owner" LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD :'owner_pw';
CREATE DATABASE :"aion_db" OWNER :"owner";
CREATE ROLE :"dagster" LOGIN NOSUPERUSER PASSWORD :'dagster_pw';
CREATE DATABASE :"dagster_db" OWNER :"dagster";
REVOKE ALL ON DATABASE :"dagster_db" FROM PUBLIC;
SQL
