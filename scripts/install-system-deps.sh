#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive: Chromium (page tests drive a real
# headless browser) and PostGIS for PostgreSQL 15 (store tests run against a real database).
# Installs only what is missing, then makes sure PostgreSQL is running.
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
[ -e /usr/share/postgresql/15/extension/postgis.control ] || packages+=(postgresql-15-postgis-3)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || packages+=(fonts-noto-cjk)

if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing system packages: ${packages[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# PostgreSQL for the PostGIS store tests: a running cluster that user postgres can reach over
# 127.0.0.1 without a password (tests/store/conftest.py; another admin URL: LOCATOR_TEST_POSTGRES).
# Debian asks for a password over TCP by default, so where that fails one pg_hba.conf line is added:
# trust for the postgres role from 127.0.0.1 only. Set LOCATOR_PG_NO_TRUST=1 to leave auth alone.
pg_version=${LOCATOR_PG_VERSION:-$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)}
pg_cluster=${LOCATOR_PG_CLUSTER:-main}
if [ -n "$pg_version" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  port=$(pg_conftool -s "$pg_version" "$pg_cluster" show port 2>/dev/null || echo 5432)
  if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
    echo "starting PostgreSQL $pg_version/$pg_cluster on port $port" >&2
    $sudo pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
    deadline=$((SECONDS + 30))
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
      [ $SECONDS -lt $deadline ] || { echo "PostgreSQL did not start" >&2; exit 1; }
      sleep 0.2
    done
  fi
  if ! psql -w -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc "select 1" >/dev/null 2>&1 \
      && [ -z "${LOCATOR_PG_NO_TRUST:-}" ]; then
    hba=/etc/postgresql/$pg_version/$pg_cluster/pg_hba.conf
    echo "allowing user postgres from 127.0.0.1 without a password for the tests ($hba)" >&2
    # First matching line wins, so the new line goes on top.
    $sudo sed -i '1i host all postgres 127.0.0.1/32 trust  # added by locator scripts/install-system-deps.sh' "$hba"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" reload
    deadline=$((SECONDS + 10))
    until psql -w -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc "select 1" >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { echo "still can't connect as postgres to 127.0.0.1:$port" >&2; exit 1; }
      sleep 0.2
    done
  fi
fi
