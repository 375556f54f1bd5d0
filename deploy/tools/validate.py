#!/usr/bin/env python3
"""Validates rendered kustomizations: every object against the Kubernetes
OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors), the
CloudNativePG resources against deploy/schemas/cnpg-subset.json, and a few
project rules the schemas cannot express. Prints one line per problem and
exits 1 if there is any.

usage: validate.py KUSTOMIZATION_DIR...
"""
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import kustomize_lite  # noqa: E402

# The oldest supported version (docs/operations.md: gRPC probes, preStop sleep,
# matchLabelKeys in pod affinity) and a current one.
KUBERNETES_VERSIONS = ("1.31.0", "1.33.0")
SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "schemas"
# The only Secrets the manifests may reference; they are created by hand
# (docs/operations.md), never committed.
KNOWN_SECRETS = {"filieris-keys", "filieris-db-credentials", "filieris-backup-s3", "filieris-dev-api-key", "filieris-gateway-tls"}


def cnpg_validators():
    schema = json.loads((SCHEMAS / "cnpg-subset.json").read_text())
    defs = schema["$defs"]

    def make(name):
        return jsonschema.Draft202012Validator({"$defs": defs, "$ref": f"#/$defs/{name}"})

    return {"Cluster": make("cluster"), "ScheduledBackup": make("scheduledBackup")}


CNPG = cnpg_validators()


def pod_spec(obj):
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec")


def secret_refs(node):
    """Every Secret name referenced anywhere below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("secretKeyRef", "secretRef") and isinstance(value, dict) and "name" in value:
                yield value["name"]
            elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                yield value["secretName"]
            yield from secret_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from secret_refs(item)


def project_rules(obj, autoscaled):
    """Rules of docs/operations.md that no schema carries."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    if kind == "Deployment" and name in autoscaled and "replicas" in obj["spec"]:
        yield "sets replicas while a HorizontalPodAutoscaler scales it (each apply would reset the count)"
    if kind == "Secret":
        yield "Secret objects are never committed: create them with kubectl (docs/operations.md)"
    for ref in secret_refs(obj.get("spec", {})):
        if ref not in KNOWN_SECRETS:
            yield f"references Secret {ref!r}, not one of the documented {sorted(KNOWN_SECRETS)}"
    pod = pod_spec(obj) if kind in ("Deployment", "StatefulSet", "Job", "CronJob") else None
    if pod is None:
        return
    pod_sc = pod.get("securityContext", {})
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        sc = c.get("securityContext", {})
        where = f"container {c.get('name')}"
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            yield f"{where}: runAsNonRoot is not set"
        if not sc.get("readOnlyRootFilesystem"):
            yield f"{where}: readOnlyRootFilesystem is not true"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation is not false"
        limits = c.get("resources", {}).get("limits", {})
        if "memory" not in limits:
            yield f"{where}: no memory limit"
        if ":" not in c.get("image", "").rsplit("/", 1)[-1]:
            yield f"{where}: image {c.get('image')!r} has no tag (the overlay's images: entry is missing)"
        if kind in ("Deployment", "StatefulSet") and "readinessProbe" not in c:
            yield f"{where}: no readiness probe"


def validate(obj):
    kind = obj.get("kind", "?")
    if obj.get("apiVersion") == "postgresql.cnpg.io/v1":
        validator = CNPG.get(kind)
        if validator is None:
            return [f"no schema for CloudNativePG kind {kind} (add it to deploy/schemas/cnpg-subset.json)"]
        return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message} (Kubernetes {version})"]
        except kubernetes_validate.SchemaNotFoundError as e:
            return [e.message]
    return []


def main(dirs):
    failures = 0
    for directory in dirs:
        try:
            objects = kustomize_lite.build(directory)
        except kustomize_lite.KustomizeError as e:
            print(f"FAIL {directory}: {e}")
            failures += 1
            continue
        seen = set()
        autoscaled = {o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
        for obj in objects:
            ident = (obj.get("apiVersion"), obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
            label = f"{directory}: {obj['kind']}/{obj['metadata']['name']}"
            problems = validate(obj) + list(project_rules(obj, autoscaled))
            if ident in seen:
                problems.append("defined twice")
            seen.add(ident)
            for p in problems:
                print(f"FAIL {label}: {p}")
            failures += len(problems)
        kinds = sorted({o["kind"] for o in objects})
        print(f"{directory}: {len(objects)} objects ({', '.join(kinds)})")
    if failures:
        print(f"{failures} problem(s)")
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
