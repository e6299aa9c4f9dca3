#!/usr/bin/env bash
# Post-install smoke test for svc-registry.
#
#   scripts/smoke-registry.sh --spawn     start a throwaway registry (amnesia, fresh key) and test it
#   scripts/smoke-registry.sh             test a running registry:
#       REGISTRY_URL (default http://127.0.0.1:9444), ADMIN_URL (default http://127.0.0.1:9909),
#       REGISTRY_KEY=path/to/key.json to sign the commit (else it is sent unsigned: works with --dev),
#       REGISTRY_ID (default "default").
#
# Checks: /healthz, /version, head, a signed commit → version+1, the `event: commit` on the stream,
# and requests_total moving. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/packages/registry/bin/svc-registry.js"
REGISTRY_URL="${REGISTRY_URL:-http://127.0.0.1:9444}"
ADMIN_URL="${ADMIN_URL:-http://127.0.0.1:9909}"
REGISTRY_ID="${REGISTRY_ID:-default}"
KEY="${REGISTRY_KEY:-}"
WORK="$(mktemp -d)"
PID=""
STREAM_PID=""

cleanup() {
  [[ -n "$STREAM_PID" ]] && kill "$STREAM_PID" 2>/dev/null || true
  if [[ -n "$PID" ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { printf '  ok   %s\n' "$*"; }
fail() { printf '  FAIL %s\n' "$*" >&2; [[ -f "$WORK/registry.log" ]] && tail -n 20 "$WORK/registry.log" >&2; exit 1; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];process.stdout.write(typeof v==="object"?JSON.stringify(v):String(v))})' "$1"; }
metric() { curl -fsS "$ADMIN_URL/metrics" | awk -v m="$1" 'index($0, m" ")==1 {print $NF}'; }

[[ -f "$BIN" ]] || fail "missing $BIN (run: npx tsc -b)"
if [[ -f "$ROOT/packages/registry/dist/src/main.js" ]]; then :; else fail "packages/registry is not built (run: npx tsc -b)"; fi

if [[ "${1:-}" == "--spawn" ]]; then
  echo "svc-registry smoke (spawned, amnesia)"
  KEY="$WORK/dev.key"
  SIGNER="$(node "$BIN" keygen --out "$KEY")"
  node "$BIN" --amnesia --bind 127.0.0.1:0 --admin-bind 127.0.0.1:0 --allow-signer "$SIGNER" --sig-threshold 1 \
    >"$WORK/registry.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    grep -q '"event":"ready"' "$WORK/registry.log" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || fail "registry exited during start-up"
    sleep 0.1
  done
  READY="$(grep '"event":"ready"' "$WORK/registry.log" | head -n1)" || fail "no ready line within 10 s"
  REGISTRY_URL="$(printf '%s' "$READY" | jget url)"
  ADMIN_URL="$(printf '%s' "$READY" | jget admin_url)"
  ok "started pid $PID: API $REGISTRY_URL, admin $ADMIN_URL"
else
  echo "svc-registry smoke against $REGISTRY_URL (admin $ADMIN_URL)"
fi

# 1. Liveness.
for _ in $(seq 1 50); do curl -fsS -o /dev/null "$ADMIN_URL/healthz" 2>/dev/null && break; sleep 0.2; done
curl -fsS -o /dev/null "$ADMIN_URL/healthz" || fail "/healthz not answering"
ok "/healthz 200"

# 2. Version.
SERVICE="$(curl -fsS "$ADMIN_URL/version" | jget service)"
[[ "$SERVICE" == "svc-registry" ]] || fail "/version service is '$SERVICE'"
ok "/version service=svc-registry"

# 3. Head.
HEAD="$(curl -fsS "$REGISTRY_URL/registry/head" | jget version)"
ok "head version $HEAD"
BEFORE="$(metric 'requests_total{method="GET",route="/registry/head",status="200"}')"

# 4. Watch the stream from the current head, then commit head+1.
curl -sSN --max-time 15 "$REGISTRY_URL/registry/stream?from=$HEAD" >"$WORK/stream.txt" 2>/dev/null &
STREAM_PID=$!
NEXT=$((HEAD + 1))
PAYLOAD="b3:smoke-$(date +%s)-$$"
if [[ -n "$KEY" ]]; then
  SIG="$(node "$BIN" sign --key "$KEY" --payload-b3 "$PAYLOAD" --version "$NEXT" --registry "$REGISTRY_ID")"
  BODY="{\"payload_b3\":\"$PAYLOAD\",\"signatures\":[$SIG]}"
else
  BODY="{\"payload_b3\":\"$PAYLOAD\"}"
fi
RESP="$(curl -sS -w '\n%{http_code}' -H 'content-type: application/json' --data "$BODY" "$REGISTRY_URL/registry/commit")"
CODE="$(printf '%s' "$RESP" | tail -n1)"
[[ "$CODE" == "200" ]] || fail "commit answered $CODE: $(printf '%s' "$RESP" | head -n1)"
NEWV="$(printf '%s' "$RESP" | head -n1 | jget version)"
[[ "$NEWV" == "$NEXT" ]] || fail "commit returned version $NEWV, expected $NEXT"
ok "$([[ -n "$KEY" ]] && echo signed || echo "unsigned (dev)") commit → version $NEWV"
HEAD2="$(curl -fsS "$REGISTRY_URL/registry/head" | jget version)"
[[ "$HEAD2" -ge "$NEXT" ]] || fail "head is $HEAD2 after the commit"
ok "head is now $HEAD2"

# 5. The stream carried it.
for _ in $(seq 1 50); do grep -q "^id: $NEXT\$" "$WORK/stream.txt" 2>/dev/null && break; sleep 0.1; done
grep -q '^event: commit$' "$WORK/stream.txt" && grep -q "^id: $NEXT\$" "$WORK/stream.txt" || fail "no 'event: commit' with id $NEXT on the stream"
ok "stream delivered event: commit id: $NEXT"

# 6. Metrics moved.
AFTER="$(metric 'requests_total{method="GET",route="/registry/head",status="200"}')"
node -e 'process.exit(Number(process.argv[2]) > Number(process.argv[1]) ? 0 : 1)' "${BEFORE:-0}" "${AFTER:-0}" \
  || fail "requests_total for GET /registry/head did not move ($BEFORE → $AFTER)"
ok "requests_total moved ($BEFORE → $AFTER)"
echo "svc-registry smoke: all checks passed"
