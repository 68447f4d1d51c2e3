#!/bin/sh
# deployctl's PostgreSQL entrypoint, with the official postgres image's interface.
#
# On the first start of an empty PGDATA it creates the cluster (initdb) with
# POSTGRES_USER (default postgres) and POSTGRES_PASSWORD, creates POSTGRES_DB
# (default: the user's name), and runs /docker-entrypoint-initdb.d in name
# order: *.sh executed (or sourced when not executable), *.sql and *.sql.gz fed
# to psql, all against a server that listens on its Unix socket only. Then (and
# on every later start) it runs the command: `postgres` and its arguments.
# POSTGRES_INITDB_ARGS and POSTGRES_HOST_AUTH_METHOD are honoured as there.
set -eu

# `docker run IMAGE -c name=value`: options of postgres.
if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"
}

create_cluster() {
  # The password reaches initdb through a pipe, never a command line.
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" |
      initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin ${POSTGRES_INITDB_ARGS:-}
  else
    initdb --username="$POSTGRES_USER" ${POSTGRES_INITDB_ARGS:-}
  fi
  # initdb trusts the socket and the loopback; every other address needs a password.
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
}

run_init_files() {
  for file in /docker-entrypoint-initdb.d/*; do
    case "$file" in
      *.sh)
        if [ -x "$file" ]; then
          echo "$0: running $file"
          "$file"
        else
          echo "$0: sourcing $file"
          # shellcheck disable=SC1090
          . "$file"
        fi
        ;;
      *.sql) echo "$0: running $file"; sql --dbname "$POSTGRES_DB" -f "$file" ;;
      *.sql.gz) echo "$0: running $file"; gunzip -c "$file" | sql --dbname "$POSTGRES_DB" ;;
      *) if [ -e "$file" ]; then echo "$0: ignoring $file"; fi ;;
    esac
  done
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  export POSTGRES_USER="${POSTGRES_USER:-postgres}"
  export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo "$0: the data directory is empty and POSTGRES_PASSWORD is not set" \
      "(set it, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection)" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  create_cluster
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    sql --dbname postgres --set db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  run_init_files
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "$0: PostgreSQL init process complete; ready for start up"
fi

exec "$@"
