#!/usr/bin/env bash
# The documented podman-compose run of deploy/compose.yaml (docs/deploy.md, "The run performed
# here"): the stack from empty volumes, the first model from the train one-off, a list, an
# event folded in by stream, a second version rolled out and rolled back, then everything
# removed. Prints each step and what it answered. About 10 minutes on a busy 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
eval "$(bash scripts/compose_images.sh)"
export POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-compose-demo}" TAILOR_PORT="${TAILOR_PORT:-18000}"
compose=(podman-compose -p tailor -f deploy/compose.yaml)
api="http://127.0.0.1:$TAILOR_PORT"
step() { printf '\n$ %s\n' "$*"; }
ids() { python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["source"], a["model_version"], [i["item_id"] for i in a["items"]])'; }
cleanup() { "${compose[@]}" down >/dev/null 2>&1 || true; podman volume rm -f tailor_models tailor_pgdata >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

step "${compose[@]}" up -d redis postgres serve stream
"${compose[@]}" up -d redis postgres serve stream >/dev/null 2>&1
sleep 15
step curl "$api/health/ready"
curl -s "$api/health/ready"; echo
step "${compose[@]}" run --rm train
start=$(date +%s)
# podman-compose 1.0 does not pass the container's exit status on: readiness below tells
"${compose[@]}" run --rm train > /tmp/tailor-compose-train.log 2>&1 || true
grep -E 'published|Gate|Active|test ndcg|logged to MLflow|Run folder|Error' /tmp/tailor-compose-train.log \
    || tail -20 /tmp/tailor-compose-train.log
echo "(train took $(( $(date +%s) - start )) s)"
ready=no
for _ in $(seq 30); do curl -sf "$api/health/ready" >/dev/null && { ready=yes; break; }; sleep 1; done
step curl "$api/health/ready"
curl -s "$api/health/ready"; echo
[ "$ready" = yes ] || { echo "serve did not become ready: the first model was not published" >&2; exit 1; }
step curl "$api/v1/recommendations/17850?n=5"
curl -s "$api/v1/recommendations/17850?n=5" | ids
top=$(curl -s "$api/v1/recommendations/17850?n=5" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["item_id"])')
step curl -X POST "$api/v1/events" "(17850 buys $top)"
curl -s -X POST -H 'Content-Type: application/json' "$api/v1/events" \
    -d "{\"events\":[{\"event_id\":\"smoke-1\",\"user_id\":\"17850\",\"item_id\":\"$top\",\"type\":\"purchase\",\"timestamp\":$(date +%s)}]}"; echo
sleep 5
step curl "$api/v1/recommendations/17850?n=5" "(after stream folded the purchase in)"
curl -s "$api/v1/recommendations/17850?n=5" | ids
step podman exec tailor_postgres_1 psql "(Optuna trials, MLflow runs)"
podman exec tailor_postgres_1 psql -U tailor -d tailor -Atc 'select count(*) || '"' Optuna trials'"' from trials'
podman exec tailor_postgres_1 psql -U tailor -d mlflow -Atc 'select count(*) || '"' MLflow runs'"' from runs'
step "${compose[@]}" exec stream tailor serve versions --registry /data/store
podman exec tailor_stream_1 tailor serve versions --registry /data/store
v1=$(podman exec tailor_stream_1 cat /data/store/ACTIVE)
step tailor serve publish ... --version v2 --activate "(a second version: rolling model update)"
podman exec tailor_stream_1 tailor serve publish --registry /data/store /data/runs/compose/model --version v2 --activate
sleep 4
curl -s "$api/v1/recommendations/17850?n=5" | ids
step "${compose[@]}" exec stream tailor serve rollback --registry /data/store
podman exec tailor_stream_1 tailor serve rollback --registry /data/store
sleep 4
curl -s "$api/v1/recommendations/17850?n=5" | ids
step podman exec tailor_serve_1 id -u
podman exec tailor_serve_1 id -u
step "${compose[@]}" down
