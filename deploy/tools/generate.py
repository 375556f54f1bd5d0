#!/usr/bin/env python3
"""Writes deploy/k8s/base/apps/*.yaml: the Deployment, Service, HPA, PDB and
NetworkPolicy of the gateway and of every service, from one table.

The seven workloads differ only by name, port, callers and callees; writing
them from one table keeps the NetworkPolicies in step with the call graph.
`validate.sh` runs `generate.py --check`, so an edit made by hand to a
generated file, or to the table without regenerating, fails CI.

The call graph comes from the code: every FILIERIS_<NAME>_URL read in
services/*/src and gateway/src.
"""
import argparse
import pathlib
import sys

import yaml

OUT = pathlib.Path(__file__).resolve().parent.parent / "k8s" / "base" / "apps"
PART_OF = "filieris"
IMAGE = "filieris"  # one image holds every binary; overlays set registry and tag

# name: (port, services it calls, needs the pseudonym key)
SERVICES = {
    "registry": (50051, [], False),
    "activity": (50052, ["registry"], True),
    "finance": (50053, ["registry"], False),
    "hr": (50054, ["registry"], False),
    "missions": (50055, ["finance"], True),
    "steering": (50056, ["activity", "finance", "hr", "missions"], False),
}
GATEWAY_PORT = 8080

# Services that talk to Redis (change-feed publisher and consumers). The gateway
# is included so that quotas kept in Redis need no policy change.
REDIS_CLIENTS = {"registry", "activity", "finance", "hr", "gateway"}


def labels(name):
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/component": "service" if name != "gateway" else "gateway",
    }


def selector(name):
    return {"app.kubernetes.io/name": name}


def env_for(name, port, pseudonym):
    env = [
        {"name": "FILIERIS_DB_USER", "valueFrom": {"secretKeyRef": {"name": "filieris-db-credentials", "key": "username"}}},
        {"name": "FILIERIS_DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "filieris-db-credentials", "key": "password"}}},
        # Kubernetes expands $(VAR) from the variables above; the password must
        # be URL-safe (docs/operations.md creates a hex one).
        {"name": "DATABASE_URL", "value": "postgres://$(FILIERIS_DB_USER):$(FILIERIS_DB_PASSWORD)@filieris-pg-rw:5432/filieris"},
        {"name": "FILIERIS_INTERNAL_KEY", "valueFrom": {"secretKeyRef": {"name": "filieris-keys", "key": "internal-key"}}},
    ]
    if pseudonym:
        env.append({"name": "FILIERIS_PSEUDONYM_KEY", "valueFrom": {"secretKeyRef": {"name": "filieris-keys", "key": "pseudonym-key"}}})
    env.append({"name": f"FILIERIS_{name.upper()}_ADDR", "value": f"0.0.0.0:{port}"})
    return env


def deployment(name, port, pseudonym):
    is_gateway = name == "gateway"
    if is_gateway:
        ready = {"httpGet": {"path": "/healthz", "port": "http"}}
        port_spec = {"name": "http", "containerPort": port, "protocol": "TCP"}
    else:
        # grpc.health.v1 "" is SERVING only while the database answers.
        ready = {"grpc": {"port": port}}
        port_spec = {"name": "grpc", "containerPort": port, "protocol": "TCP"}
    container = {
        "name": "app",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": [f"/usr/local/bin/filieris-{name}"],
        "args": ["serve"],
        "ports": [port_spec],
        "envFrom": [{"configMapRef": {"name": "filieris-config"}}],
        "env": env_for(name, port, pseudonym),
        # Migrations run before the server listens: give them time.
        "startupProbe": dict(ready, periodSeconds=2, failureThreshold=90),
        "readinessProbe": dict(ready, periodSeconds=5, failureThreshold=2),
        # Liveness is a TCP check, not the health service: NOT_SERVING during a
        # database outage must take pods out of the Service, not restart them all.
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10, "failureThreshold": 6},
        # Lets endpoints drop the pod before SIGTERM starts the graceful shutdown.
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name)},
        # No replicas: the HorizontalPodAutoscaler owns the count (dev 1, prod
        # 2..6); a fixed value would be reset at every `kubectl apply`.
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": {
                    "serviceAccountName": "filieris",
                    "automountServiceAccountToken": False,
                    # preStop 5 s + FILIERIS_SHUTDOWN_GRACE_SECONDS 20 s + margin.
                    "terminationGracePeriodSeconds": 35,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def service(name, port):
    pname = "http" if name == "gateway" else "grpc"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(name),
            "ports": [{"name": pname, "port": port, "targetPort": pname, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c" if name != "gateway" else "http"}],
        },
    }


def hpa(name):
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }


def pdb(name):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "labels": labels(name)},
        # One replica in dev: maxUnavailable keeps node drains possible.
        # prod replaces it with minAvailable: 1.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(name)}},
    }


def peer(name):
    return {"podSelector": {"matchLabels": selector(name)}}


def network_policy(name, port, callers, callees):
    ingress_from = [peer(c) for c in callers]
    if name == "gateway":
        # The only workload reachable from outside the namespace.
        ingress = [{"ports": [{"port": port, "protocol": "TCP"}]}]
    else:
        ingress = [{"from": ingress_from, "ports": [{"port": port, "protocol": "TCP"}]}]
    egress = [
        {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "filieris-pg"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]},
        {"to": [peer("otel-collector")], "ports": [{"port": 4317, "protocol": "TCP"}]},
    ]
    if name in REDIS_CLIENTS:
        egress.append({"to": [peer("redis")], "ports": [{"port": 6379, "protocol": "TCP"}]})
    for callee in callees:
        egress.append({"to": [peer(callee)], "ports": [{"port": SERVICES[callee][0], "protocol": "TCP"}]})
    if name == "gateway":
        # The identity provider's JWKS (FILIERIS_OIDC_JWKS_URL) is outside the cluster.
        egress.append({"ports": [{"port": 443, "protocol": "TCP"}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {"podSelector": {"matchLabels": selector(name)}, "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
    }


def documents():
    callers = {name: ["gateway"] for name in SERVICES}
    for name, (_, callees, _) in SERVICES.items():
        for callee in callees:
            callers[callee].append(name)
    out = {}
    for name, (port, callees, pseudonym) in SERVICES.items():
        out[name] = [
            deployment(name, port, pseudonym),
            service(name, port),
            hpa(name),
            pdb(name),
            network_policy(name, port, callers[name], callees),
        ]
    out["gateway"] = [
        deployment("gateway", GATEWAY_PORT, False),
        service("gateway", GATEWAY_PORT),
        hpa("gateway"),
        pdb("gateway"),
        network_policy("gateway", GATEWAY_PORT, [], list(SERVICES)),
    ]
    return out


HEADER = "# Generated by deploy/tools/generate.py from its SERVICES table: edit the table, then run it.\n"


class _NoAliases(yaml.SafeDumper):
    # Probes share a dict; anchors would make the files harder to read.
    def ignore_aliases(self, data):
        return True


def render(docs):
    return HEADER + yaml.dump_all(docs, Dumper=_NoAliases, sort_keys=False, width=200)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files on disk differ from the table")
    args = parser.parse_args()
    stale = []
    expected = {f"{name}.yaml": render(docs) for name, docs in documents().items()}
    for filename, text in expected.items():
        path = OUT / filename
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check:
        extra = sorted(p.name for p in OUT.glob("*.yaml") if p.name not in expected)
        stale += [str(OUT / p) for p in extra]
        if stale:
            print("generated manifests out of date (run deploy/tools/generate.py):", *stale, sep="\n  ", file=sys.stderr)
            return 1
        print(f"generated manifests up to date ({len(expected)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
