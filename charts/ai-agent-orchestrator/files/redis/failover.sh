#!/bin/sh
# preStop of the redis container where Sentinel runs (components/redis-sentinel;
# render-config.sh puts this script in /etc/redis-run). A master being stopped
# hands over first: it asks the sentinels for a failover and waits, up to 30 s,
# until they name another master. A deleted or rolled master pod then costs the
# clients a reconnect, not the 10 s of down-after-milliseconds and an election
# (which a pod that restarts quickly often never sees: it is back as master
# before the sentinels agree it was down). A replica just stops.
set -u
self="$(hostname).redis-headless"
[ "$(redis-cli -h 127.0.0.1 -p 6379 role 2>/dev/null | head -n 1)" = master ] || exit 0

ask() { timeout 5 redis-cli -h redis-sentinel -p 26379 --raw "$@" 2>/dev/null; }
tries=0
while [ "$tries" -lt 30 ]; do
  master="$(ask sentinel get-master-addr-by-name mymaster | head -n 1)"
  case "$master" in
    redis-*.redis-headless)
      if [ "$master" != "$self" ]; then
        echo "$self: handed over to $master"
        exit 0
      fi
      ;;
  esac
  ask sentinel failover mymaster >/dev/null
  sleep 1
  tries=$((tries + 1))
done
echo "$self: no failover within 30 s; stopping as the master"
