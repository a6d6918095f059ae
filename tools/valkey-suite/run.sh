#!/bin/bash
# Valkey's own test suite (BSD-3-Clause, fetched, never copied here) against a
# ringkv server, in its external-server mode. Tests outside ringkv's scope are
# skipped by name: tools/valkey-suite/skip-<unit>.txt, one per line with the
# reason after " # " (see README, "Redis compatibility").
#
#   VALKEY_DIR=/path/to/valkey bash tools/valkey-suite/run.sh [unit/protocol unit/expire ...]
#
# VALKEY_DIR: a checkout of https://github.com/valkey-io/valkey (measured at
# commit 55bbbe09a); this script fetches nothing. Needs tclsh (Debian: tcl),
# redis-cli and a built ringkv (npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [ -z "${VALKEY_DIR:-}" ] || [ ! -f "$VALKEY_DIR/tests/test_helper.tcl" ]; then
  echo "set VALKEY_DIR to a checkout of https://github.com/valkey-io/valkey (git clone it first)" >&2
  exit 2
fi
WORK=$(mktemp -d /tmp/ringkv-valkey.XXXX)
PORT=${PORT:-$((26000 + RANDOM % 3000))}
UNITS=("$@")
[ ${#UNITS[@]} -eq 0 ] && UNITS=(unit/protocol unit/type/string unit/keyspace unit/expire unit/type/incr)
cleanup() { [ -n "${PID:-}" ] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
node dist/src/cli/main.js start --data-dir "$WORK/data" --port "$PORT" --http-port 0 --actors 3 \
  --allow-flush --dbsize exact --max-pair-bytes 67108864 >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do redis-cli -p "$PORT" PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
cd "$VALKEY_DIR"
for unit in "${UNITS[@]}"; do
  skip="$ROOT/tools/valkey-suite/skip-$(basename "$unit").txt"
  args=()
  if [ -f "$skip" ]; then sed 's/ # .*$//' "$skip" | grep -v '^$' >"$WORK/skip.txt"; args=(--skipfile "$WORK/skip.txt"); fi
  out=$(tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$PORT" --singledb --single "$unit" --clients 1 "${args[@]}" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' || true)
  echo "$unit: $(grep -c '^\[ok\]' <<<"$out") passed, $(grep -c '^\[err\]' <<<"$out") failed, $(grep -c '^\[exception\]' <<<"$out") aborted, $( [ -f "$skip" ] && grep -vc '^$' "$skip" || echo 0) skipped as out of scope"
  grep -E '^\[(err|exception)\]' -A1 <<<"$out" || true
done
