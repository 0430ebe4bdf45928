#!/bin/sh
# A throwaway PostgreSQL 15 cluster with deploy/postgresql.conf, for benchmarks that should not depend on
# the settings of whatever server the machine already runs.
#   bench/tuned_postgres.sh start [DIR] [PORT]   (default /tmp/portal-pg-tuned, 5440) prints a DATABASE_URL
#   bench/tuned_postgres.sh stop [DIR]
set -eu
cmd=${1:?start or stop}
dir=${2:-/tmp/portal-pg-tuned}
port=${3:-5440}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null
    cp "$here/deploy/postgresql.conf" "$dir/portal.conf"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/portal.conf"
    echo "include 'portal.conf'" >>"$dir/postgresql.conf"
  fi
  as_pg "$bin/pg_ctl" -D "$dir" -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" -l "$dir/server.log" -w start >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
  ;;
*) echo "usage: $0 start|stop [DIR] [PORT]" >&2; exit 2 ;;
esac
