#!/bin/sh
# deployctl's Redis entrypoint, with the official redis image's interface: a first
# argument that is an option (-...) or a config file (*.conf) runs redis-server with
# it; any other command (redis-server, redis-sentinel, redis-cli, sh) runs as given.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

# The official image builds Redis with protected mode off by default; Debian's is
# on. Without a config file, say so on the command line (a config file decides).
config="${2:-}"
if [ "$1" = redis-server ] && [ "${config%.conf}" = "$config" ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi

# Files Redis writes (RDB, AOF) are private to its user unless told otherwise.
if [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
