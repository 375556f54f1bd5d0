#!/usr/bin/env bash
# Property-based API tests of the running gateway with schemathesis: every
# operation of /openapi.json, valid and invalid inputs, with a valid
# credential. Fails on any 5xx, on a 499 (a service dropped the call), or on a
# response that does not match the schema.
#
#   scripts/run.sh &                  # the platform (demo data, dev API key)
#   scripts/schemathesis.sh           # then this
#
# Settings: FILIERIS_GATEWAY_URL (default http://127.0.0.1:8080), FILIERIS_API_KEY
# (default: .filieris/dev-api-key, the key run.sh registers), ST_MAX_EXAMPLES
# (cases per operation and phase, default 20), ST_SEED (default 1), ST_PHASES
# (default examples,coverage,fuzzing; "stateful" also chains calls). Extra
# arguments go to `schemathesis run` (e.g. --include-path /v1/structures).
# The pinned tools (scripts/requirements-schemathesis.txt) go into
# target/schemathesis-venv. Reports (JUnit, NDJSON) in target/schemathesis/.
# It writes: run it against a scratch database, not one whose data matters.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

URL=${FILIERIS_GATEWAY_URL:-http://127.0.0.1:8080}
STATE_DIR=${FILIERIS_STATE_DIR:-.filieris}
KEY=${FILIERIS_API_KEY:-$(cat "$STATE_DIR/dev-api-key" 2>/dev/null || true)}
[[ -n $KEY ]] || {
  echo "schemathesis.sh: no API key: set FILIERIS_API_KEY or start scripts/run.sh first" >&2
  exit 1
}

VENV=target/schemathesis-venv
REQS=scripts/requirements-schemathesis.txt
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/schemathesis" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQS"
  echo "$want" >"$stamp"
fi

curl -fsS -o /dev/null --max-time 5 "$URL/healthz" || {
  echo "schemathesis.sh: the gateway does not answer at $URL/healthz" >&2
  exit 1
}

report=target/schemathesis
mkdir -p "$report"
# not_a_server_error: no 5xx, whatever the input; no_upstream_reset
# (schemathesis_hooks.py): no 499 from a service dropping the call; the
# conformance checks: status codes, content types and bodies as the schema
# declares them.
export SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=scripts
exec "$VENV/bin/schemathesis" run "$URL/openapi.json" \
  --header "Authorization: Bearer $KEY" \
  --checks not_a_server_error,no_upstream_reset,response_schema_conformance,status_code_conformance,content_type_conformance \
  --phases "${ST_PHASES:-examples,coverage,fuzzing}" \
  --max-examples "${ST_MAX_EXAMPLES:-20}" \
  --seed "${ST_SEED:-1}" \
  --workers 2 \
  --request-timeout 30 \
  --suppress-health-check all \
  --continue-on-failure \
  --output-sanitize true \
  --report junit,ndjson --report-dir "$report" \
  "$@"
