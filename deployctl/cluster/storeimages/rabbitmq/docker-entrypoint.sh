#!/bin/sh
# deployctl's RabbitMQ entrypoint. A first argument that is an option runs
# rabbitmq-server with it; any other command runs as given.
#
# The Erlang cookie is $HOME/.erlang.cookie (HOME=/var/lib/rabbitmq), where the
# server and the CLI tools (rabbitmq-diagnostics in the probes) read it: the
# manifests copy it there. RABBITMQ_ERLANG_COOKIE, when set, is written there first.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- rabbitmq-server "$@"
fi

if [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ]; then
  cookie="$HOME/.erlang.cookie"
  if [ ! -f "$cookie" ] || [ "$(cat "$cookie")" != "$RABBITMQ_ERLANG_COOKIE" ]; then
    rm -f "$cookie"
    (umask 0077 && printf '%s' "$RABBITMQ_ERLANG_COOKIE" > "$cookie")
  fi
fi

exec "$@"
