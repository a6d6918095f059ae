#!/usr/bin/env bash
# The same stress workload against one ringkv process and against three nodes of a multi-node
# cluster on this machine (3 + 1 + 1 actors, one etcd on loopback), runs alternating; prints each
# run's summary. Needs `npm run build` and etcd (Debian: etcd-server). Usage:
#   bash tools/bench-nodes.sh [rounds (default 2)] [seconds per run (default 30)]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
DUR=${2:-30}
WORK=$(mktemp -d /tmp/ringkv-bench-nodes-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export RINGKV_CLUSTER_SECRET=bench-nodes-secret
RINGKV="node dist/src/cli/main.js"
STRESS="stress --workload a --records 10000 --duration $DUR --clients 48 --no-progress"

ready() { until grep -q "ringkv ready" "$1"; do sleep 0.2; done; }

single() {
  $RINGKV start --data-dir "$WORK/single" --port 6390 --http-port 8190 > "$WORK/single.log" 2>&1 & local p=$!; PIDS+=($p)
  ready "$WORK/single.log"
  $RINGKV $STRESS --target redis://127.0.0.1:6390 --out "$WORK/out-single-$1" > "$WORK/stress-single-$1.txt" 2>&1
  kill $p; wait $p || true; rm -rf "$WORK/single"
}

nodes() {
  etcd --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster default=http://127.0.0.1:23800 --log-level error > "$WORK/etcd.log" 2>&1 & local e=$!; PIDS+=($e)
  until curl -sf http://127.0.0.1:23790/health > /dev/null; do sleep 0.2; done
  local join="--join etcd://127.0.0.1:23790 --cluster bench$1" ps=()
  local i=0
  for spec in a:3 b:1 c:1; do
    local name=${spec%%:*} actors=${spec#*:}
    i=$((i + 1))
    $RINGKV start --data-dir "$WORK/node-$name" --port $((6390 + i)) --http-port $((8190 + i)) --actors "$actors" $join \
      --advertise 127.0.0.1:$((7100 + i)) --node-name "$name" > "$WORK/$name.log" 2>&1 & ps+=($!); PIDS+=($!)
    ready "$WORK/$name.log"
  done
  $RINGKV $STRESS --target redis://127.0.0.1:6391,redis://127.0.0.1:6392,redis://127.0.0.1:6393 --out "$WORK/out-nodes-$1" > "$WORK/stress-nodes-$1.txt" 2>&1
  kill "${ps[@]}"; wait "${ps[@]}" || true
  kill $e; wait $e || true
  rm -rf "$WORK"/node-* "$WORK/etcd"
}

for r in $(seq 1 "$ROUNDS"); do
  single "$r"
  nodes "$r"
  for kind in single nodes; do
    echo "== round $r, $kind"
    grep -E "ops/s over|^│ (read|update) |no acknowledged write lost|replicas converge" "$WORK/stress-$kind-$r.txt" | cut -c1-110
  done
done
