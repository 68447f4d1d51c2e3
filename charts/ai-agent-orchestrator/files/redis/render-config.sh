#!/bin/sh
# Init container of every redis pod: writes /etc/redis-run/redis.conf and
# sentinel.conf (an emptyDir) from the templates in /config.
set -eu

self="$(hostname).redis-headless"
master=""
if [ "${SENTINEL_ENABLED:-false}" = true ]; then
  # After a failover the master is no longer redis-0: ask the sentinels
  # (nobody answers on the very first start, then redis-0 is the master).
  master="$(timeout 5 redis-cli -h redis-sentinel -p 26379 --raw \
    sentinel get-master-addr-by-name mymaster 2>/dev/null | head -n 1 || true)"
fi
# Anything but one of our pods' names (no answer, an error) means redis-0.
case "$master" in
  redis-*.redis-headless) ;;
  *) master=redis-0.redis-headless ;;
esac

# Quote the password for the config file parser (backslash, double quote);
# printf, not echo, so that no shell interprets the backslashes again.
password="$(printf '%s' "$REDIS_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')"

{
  cat /config/redis.conf
  printf 'replica-announce-ip %s\n' "$self"
  printf 'maxmemory %s\n' "$((REDIS_MEMORY_LIMIT / 4 * 3))"
  printf 'requirepass "%s"\n' "$password"
  printf 'masterauth "%s"\n' "$password"
  if [ "$master" != "$self" ]; then
    printf 'replicaof %s 6379\n' "$master"
  fi
} > /etc/redis-run/redis.conf

{
  sed -e "s/__SELF__/$self/" -e "s/__MASTER__/$master/" /config/sentinel.conf
  printf 'sentinel auth-pass mymaster "%s"\n' "$password"
  printf 'sentinel sentinel-pass "%s"\n' "$password"
  printf 'requirepass "%s"\n' "$password"
} > /etc/redis-run/sentinel.conf

# With Sentinel, the redis container's preStop hands a master's role over first.
if [ "${SENTINEL_ENABLED:-false}" = true ]; then
  cp /config/failover.sh /etc/redis-run/failover.sh
fi

echo "$self: master is $master"
