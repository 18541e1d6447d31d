#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster on a free local port:
#   tests/with-postgres.sh .venv/bin/pytest -q
# Installs Debian's postgresql package when no server binaries are found (needs root and
# apt-get), starts a fresh cluster in a temporary directory (never the system one), exports
# SCIPASS_TEST_DATABASE_URL, runs the command, and removes the cluster afterwards.
# When PostgreSQL cannot be started it says so loudly; with CI=true that is a failure,
# otherwise it exits 0 after the warning so that a laptop without root can still test SQLite.
set -euo pipefail

loud() {
  echo >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!! PostgreSQL tests NOT RUN: $*" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
  exit 0
}

find_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL (Debian package postgresql)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } \
      || loud "apt-get install postgresql failed"
    bindir=$(find_bindir || true)
  fi
fi
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || loud "no PostgreSQL server binaries (apt-get install postgresql)"

workdir=$(mktemp -d /tmp/scipass-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" = "0" ]; then
  # initdb and postgres refuse to run as root: the cluster belongs to the postgres user.
  id postgres >/dev/null 2>&1 || loud "running as root but there is no 'postgres' user"
  chown postgres: "$workdir"
  as_owner=(runuser -u postgres --)
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$workdir/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 \
  || { cat "$workdir/initdb.log" >&2; loud "initdb failed"; }
# Durability settings are off: this cluster lives for one test run.
"${as_owner[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
  -o "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null \
  || { cat "$workdir/server.log" >&2; loud "the server did not start"; }

export SCIPASS_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
