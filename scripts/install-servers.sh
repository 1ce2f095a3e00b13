#!/usr/bin/env bash
# Installs the servers the store tests start (they never listen beyond 127.0.0.1):
# PostgreSQL and Redis from the OS packages, FerretDB built with `go install`; and Chromium
# (the OS package), the browser the dashboard's tests drive with Playwright.
# Idempotent: does nothing for what is already there. Without root, prints what is missing;
# the tests then skip those stores (or fail under ROTA_REQUIRE_BACKENDS=all).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .servers/bin

need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} from the OS packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # the packages start system-wide services; the tests run their own throwaway servers
    for svc in postgresql redis-server; do
      (service "$svc" stop >/dev/null 2>&1 || true)
    done
  else
    echo "missing ${need_apt[*]}: install them (needs root) or those store tests will skip"
  fi
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$pg_bin" ]; then
  for tool in initdb pg_ctl postgres; do ln -sf "$pg_bin/$tool" ".servers/bin/$tool"; done
fi

if [ -x scripts/install-ferretdb.sh ]; then
  bash scripts/install-ferretdb.sh
fi
