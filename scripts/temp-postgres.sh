# Sourced by the benchmark scripts: starts a throwaway PostgreSQL (initdb and pg_ctl in a
# temporary directory, a free loopback port, the server's default durability: fsync and
# synchronous commit on), as Debian's postgres user when run as root (initdb refuses root).
#
#   source scripts/temp-postgres.sh; temp_postgres_start [MAX_CONNECTIONS]
#
# Sets PG_URL (postgres://postgres@127.0.0.1:PORT/postgres), PG_WORK (the directory, writable by
# the server), PG_PSQL (an array: psql on that server) and stops the server and removes the
# directory on exit.
temp_postgres_start() {
  local max_connections="${1:-100}" pg_bin port
  pg_bin="$(pg_config --bindir 2>/dev/null || true)"
  if [ ! -x "$pg_bin/initdb" ]; then
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  fi
  [ -x "$pg_bin/initdb" ] || { echo "error: PostgreSQL not installed (apt-get install postgresql)" >&2; exit 2; }
  PG_WORK="$(mktemp -d)"
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_WORK"
    PG_AS=(runuser -u postgres --)
  fi
  PG_BIN="$pg_bin"
  trap '"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$PG_WORK"' EXIT
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "${PG_AS[@]}" "$pg_bin/initdb" -D "$PG_WORK/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  "${PG_AS[@]}" "$pg_bin/pg_ctl" -D "$PG_WORK/data" -l "$PG_WORK/server.log" -w \
    -o "-p $port -k $PG_WORK -c listen_addresses=127.0.0.1 -c max_connections=$max_connections" \
    start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  PG_PSQL=("${PG_AS[@]}" psql -X -q -t -A -h 127.0.0.1 -p "$port" -U postgres postgres)
}
