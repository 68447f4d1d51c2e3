#!/bin/sh
# Init container of every postgresql pod. On ordinals > 0 with an empty volume
# it clones the primary, so that the main container starts as a hot standby
# (pg_basebackup -R writes standby.signal and primary_conninfo).
set -eu

if [ "${HOSTNAME##*-}" = 0 ]; then
  echo "$HOSTNAME is the primary: nothing to clone"
  exit 0
fi
if [ -s "$PGDATA/PG_VERSION" ]; then
  echo "$PGDATA is initialised: starting from it"
  exit 0
fi

until pg_isready -q -h "$PRIMARY_HOST" -p 5432; do
  echo "waiting for the primary $PRIMARY_HOST"
  sleep 2
done

# Clone into a scratch directory and rename it at the end, so that an
# interrupted clone is never mistaken for a data directory.
rm -rf "$PGDATA.partial"
PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
  --host="$PRIMARY_HOST" --port=5432 --username=replicator \
  --pgdata="$PGDATA.partial" --write-recovery-conf \
  --wal-method=stream --checkpoint=fast --no-password
mv "$PGDATA.partial" "$PGDATA"
echo "cloned $PRIMARY_HOST into $PGDATA"
