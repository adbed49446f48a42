#!/usr/bin/env bash
# The project's own PostgreSQL + PostGIS cluster under .local/ (SPEC §7).
#
#   scripts/localdb.sh ensure   install PostGIS if we may, create and start the cluster,
#                               create the databases; prints nothing but progress
#   scripts/localdb.sh env      print the DATABASE_URL of the local cluster
#   scripts/localdb.sh stop     stop the local cluster
#   scripts/localdb.sh status   say whether it runs
#
# The cluster has its own port (LANDCYCLE_PG_PORT, default 55432) and socket directory, listens on
# 127.0.0.1 only and never touches a PostgreSQL server the machine already runs. PostgreSQL refuses to
# run as root, so as root the cluster runs as the unprivileged `postgres` system user.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
PORT="${LANDCYCLE_PG_PORT:-55432}"
RUN="$LOCAL/run"
LOG="$LOCAL/postgresql.log"
DBS=(landcycle landcycle_test landcycle_bench)

say() { printf '\033[1m[localdb]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[localdb]\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Newest installed PostgreSQL whose PostGIS extension is installed too (prints its version).
postgis_version() {
  local v
  for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
    if [ -x "/usr/lib/postgresql/$v/bin/postgres" ] && [ -f "/usr/share/postgresql/$v/extension/postgis.control" ]; then
      echo "$v"; return 0
    fi
  done
  return 1
}

install_postgis() {
  local v pkgs
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -rn | head -n 1 || true)
  if [ -n "$v" ]; then pkgs="postgresql-$v-postgis-3"; else pkgs="postgresql postgresql-15-postgis-3"; fi
  say "PostGIS is missing; installing $pkgs with apt (running as root)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

ensure_binaries() {
  if postgis_version >/dev/null; then return 0; fi
  if is_root; then
    install_postgis
    postgis_version >/dev/null || die "PostGIS still not found after apt-get install"
  else
    die "PostgreSQL with PostGIS is not installed. Either ask an administrator to run
      sudo apt-get install postgresql-15-postgis-3
    (or run this command as root, which installs it), or set DATABASE_URL to an existing PostGIS database:
      DATABASE_URL=postgresql://user:password@host:5432/dbname make run"
  fi
}

# Where the data lives. As root it must be reachable by `postgres`; if .local/ sits under a directory
# that user cannot traverse (e.g. /root), the data goes to /var/tmp and .local/pgdata.path says where.
data_dir() {
  if [ -f "$LOCAL/pgdata.path" ]; then cat "$LOCAL/pgdata.path"; return; fi
  local d="$LOCAL/pgdata"
  if is_root && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
    d="/var/tmp/landcycle-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)/pgdata"
  fi
  echo "$d" > "$LOCAL/pgdata.path"
  echo "$d"
}

as_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_super() {
  local db=$1; shift
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d "$db" "$@"
}

running() {
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ensure() {
  ensure_binaries
  local v; v=$(postgis_version)
  BIN="/usr/lib/postgresql/$v/bin"
  mkdir -p "$LOCAL" "$RUN"
  DATA=$(data_dir)
  if is_root; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' system user is missing (it comes with Debian's postgresql package)"
    mkdir -p "$(dirname "$DATA")"
    chown postgres "$(dirname "$DATA")" "$RUN"
    touch "$LOG" && chown postgres "$LOG"
  fi

  if [ ! -f "$DATA/PG_VERSION" ]; then
    say "creating the local PostgreSQL $v cluster in $DATA (port $PORT, socket $RUN)"
    as_owner mkdir -p "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >"$LOCAL/postgresql.auto.conf.tmp" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
shared_buffers = 256MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_connections = 200
jit = off
logging_collector = off
EOF
    as_owner tee -a "$DATA/postgresql.conf" <"$LOCAL/postgresql.auto.conf.tmp" >/dev/null
    rm -f "$LOCAL/postgresql.auto.conf.tmp"
  fi

  if running; then
    say "local PostgreSQL already running (port $PORT)"
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      die "port $PORT is taken by another server; set LANDCYCLE_PG_PORT to a free port"
    fi
    say "starting local PostgreSQL (port $PORT, log $LOG)"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
  fi

  psql_super postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'landcycle'" | grep -q 1 \
    || psql_super postgres -c "CREATE ROLE landcycle LOGIN CREATEDB"
  local db
  for db in "${DBS[@]}"; do
    if ! psql_super postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      say "creating database $db"
      psql_super postgres -c "CREATE DATABASE $db OWNER landcycle"
    fi
    # PostGIS is not a trusted extension: the superuser creates it once, the app's role owns the rest.
    psql_super "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis" 2>/dev/null
  done
}

case "${1:-}" in
  ensure) ensure ;;
  env) echo "postgresql://landcycle@127.0.0.1:$PORT/landcycle" ;;
  stop)
    v=$(postgis_version 2>/dev/null || ls /usr/lib/postgresql 2>/dev/null | sort -rn | head -n 1)
    BIN="/usr/lib/postgresql/$v/bin"
    [ -d "$LOCAL" ] || { say "no local cluster"; exit 0; }
    DATA=$(data_dir)
    if running; then as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; say "stopped"; else say "not running"; fi
    ;;
  status)
    v=$(postgis_version) || die "PostGIS not installed"
    BIN="/usr/lib/postgresql/$v/bin"
    DATA=$(data_dir)
    if running; then say "running on port $PORT, data in $DATA"; else say "not running"; exit 3; fi
    ;;
  *) echo "usage: $0 ensure|env|stop|status" >&2; exit 2 ;;
esac
