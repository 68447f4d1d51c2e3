# Sourced by the postgres image's entrypoint when it initialises an empty data
# directory. Only the primary (postgresql-0) ever does: standbys are cloned.
# The password is passed as a psql variable, so it is never part of a command
# line or a log line.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  --set=password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
