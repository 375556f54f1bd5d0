#!/usr/bin/env bash
# Validates the Kubernetes manifests of deploy/k8s (CI step "deploy manifests"):
#   1. the generated per-workload files match deploy/tools/generate.py;
#   2. each overlay (dev, prod) and the recovery template render (kustomize
#      subset, deploy/tools/kustomize_lite.py) and every object validates
#      against the Kubernetes 1.31 and 1.33 schemas (kubernetes-validate, strict), the
#      CloudNativePG subset schema and the project rules (deploy/tools/validate.py);
#   3. the rendered overlays hold what docs/operations.md says (tools/test_render.py);
#   4. the broken fixture deploy/tests/broken is rejected, with each of its
#      mistakes named: a validator that accepts everything fails here.
# The pinned Python tools (deploy/requirements-ci.txt) go into a venv under
# target/ (FILIERIS_CI_VENV), rebuilt when the requirements change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=${FILIERIS_CI_VENV:-target/ci-venv}
REQS=deploy/requirements-ci.txt
PY=${PYTHON:-python3}

command -v "$PY" >/dev/null 2>&1 || {
  echo "validate.sh: $PY not found (Python 3.9+ with venv is needed)" >&2
  exit 1
}
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "installing $REQS into $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQS"
  echo "$want" >"$stamp"
fi
py="$VENV/bin/python"

"$py" deploy/tools/generate.py --check
"$py" deploy/tools/validate.py deploy/k8s/overlays/dev deploy/k8s/overlays/prod deploy/k8s/recovery
# What each overlay promises (replicas, PDBs, policies…), on the rendered objects.
"$py" deploy/tools/test_render.py

# The broken fixture must fail, and for the right reasons.
out=$("$py" deploy/tools/validate.py deploy/tests/broken) && {
  printf '%s\n' "$out"
  echo "validate.sh: the broken fixture was accepted" >&2
  exit 1
}
missing=0
for expected in \
  "'containerPorts' was unexpected" \
  "'fifty' is not of type 'integer'" \
  "'barmanObjectStor' was unexpected" \
  "spec.instances: 0 is less than the minimum" \
  "Secret objects are never committed" \
  "runAsNonRoot is not set" \
  "readOnlyRootFilesystem is not true"; do
  if ! grep -qF -- "$expected" <<<"$out"; then
    echo "validate.sh: the broken fixture did not report: $expected" >&2
    missing=1
  fi
done
if ((missing)); then
  printf '%s\n' "$out"
  exit 1
fi
echo "broken fixture rejected ($(grep -c '^FAIL' <<<"$out") problems found, as expected)"
