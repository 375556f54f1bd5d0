#!/usr/bin/env python3
"""Checks that the overlays render to what they promise (docs/operations.md,
"dev vs prod"), which also pins kustomize_lite's patch semantics to the ones
kustomize applies to these fields. Run by deploy/validate.sh."""
import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import generate  # noqa: E402
import kustomize_lite  # noqa: E402

K8S = pathlib.Path(__file__).resolve().parent.parent / "k8s"
REPO = K8S.parent.parent
APPS = ["registry", "activity", "finance", "hr", "missions", "steering", "gateway"]


def render(overlay):
    return {(o["kind"], o["metadata"]["name"]): o for o in kustomize_lite.build(K8S / "overlays" / overlay)}


def app(objects, name):
    return objects[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]


class Prod(unittest.TestCase):
    objects = render("prod")

    def test_every_service_has_two_to_six_replicas_and_keeps_one_in_disruptions(self):
        for name in APPS:
            hpa = self.objects[("HorizontalPodAutoscaler", name)]["spec"]
            self.assertEqual((hpa["minReplicas"], hpa["maxReplicas"]), (2, 6), name)
            pdb = self.objects[("PodDisruptionBudget", name)]["spec"]
            self.assertEqual(pdb.get("minAvailable"), 1, name)
            self.assertNotIn("maxUnavailable", pdb, name)  # null in the patch deletes it

    def test_pods_spread_and_keep_their_base_settings(self):
        for name in APPS:
            pod = self.objects[("Deployment", name)]["spec"]["template"]["spec"]
            self.assertIn("podAntiAffinity", pod["affinity"], name)
            # A patch merges into the pod: the base containers and volumes are still there.
            self.assertEqual([c["name"] for c in pod["containers"]], ["app"], name)
            self.assertEqual(pod["volumes"][0]["name"], "tmp", name)
            self.assertEqual(app(self.objects, name)["image"], "registry.example.org/filieris/filieris:0.1.0")

    def test_postgres_is_replicated_and_archived(self):
        pg = self.objects[("Cluster", "filieris-pg")]["spec"]
        self.assertEqual(pg["instances"], 3)
        self.assertTrue(pg["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://"))
        self.assertEqual(pg["bootstrap"]["initdb"]["owner"], "filieris")  # from the base
        self.assertEqual(self.objects[("ScheduledBackup", "filieris-pg-nightly")]["spec"]["cluster"]["name"], "filieris-pg")

    def test_connection_budget_fits_postgres(self):
        pool = int(self.objects[("ConfigMap", "filieris-config")]["data"]["FILIERIS_DB_MAX_CONNECTIONS"])
        max_conn = int(self.objects[("Cluster", "filieris-pg")]["spec"]["postgresql"]["parameters"]["max_connections"])
        most = sum(self.objects[("HorizontalPodAutoscaler", n)]["spec"]["maxReplicas"] for n in APPS) * pool
        self.assertLess(most, max_conn)

    def test_everything_is_in_the_namespace(self):
        for (kind, name), o in self.objects.items():
            if kind != "Namespace":
                self.assertEqual(o["metadata"]["namespace"], "filieris", f"{kind}/{name}")


class Dev(unittest.TestCase):
    objects = render("dev")

    def test_single_replica_small_resources(self):
        for name in APPS:
            hpa = self.objects[("HorizontalPodAutoscaler", name)]["spec"]
            self.assertEqual((hpa["minReplicas"], hpa["maxReplicas"]), (1, 1), name)
            self.assertEqual(app(self.objects, name)["resources"]["requests"]["memory"], "48Mi", name)
            self.assertEqual(app(self.objects, name)["image"], "filieris:dev")

    def test_gateway_gets_the_optional_dev_key_after_the_base_env(self):
        env = [e["name"] for e in app(self.objects, "gateway")["env"]]
        self.assertEqual(env[-1], "FILIERIS_DEV_API_KEY")
        self.assertIn("DATABASE_URL", env)
        self.assertNotIn("FILIERIS_DEV_API_KEY", [e["name"] for e in app(self.objects, "registry")["env"]])

    def test_seed_job_runs_every_seed_in_order(self):
        pod = self.objects[("Job", "seed-demo")]["spec"]["template"]["spec"]
        names = [c["name"] for c in pod["initContainers"] + pod["containers"]]
        self.assertEqual(names, ["registry", "activity", "finance", "hr", "missions"])
        self.assertTrue(all(c["image"] == "filieris:dev" for c in pod["initContainers"]))


class Policies(unittest.TestCase):
    objects = render("prod")

    def ingress_peers(self, name):
        rules = self.objects[("NetworkPolicy", name)]["spec"]["ingress"]
        return {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for r in rules for p in r.get("from", [])}

    def test_services_accept_only_the_gateway_and_their_callers(self):
        self.assertEqual(self.ingress_peers("registry"), {"gateway", "activity", "finance", "hr"})
        self.assertEqual(self.ingress_peers("finance"), {"gateway", "missions", "steering"})
        self.assertEqual(self.ingress_peers("steering"), {"gateway"})

    def test_only_the_gateway_is_open_to_any_source(self):
        open_to_all = [
            name
            for (kind, name), o in self.objects.items()
            if kind == "NetworkPolicy" and any("from" not in r for r in o["spec"].get("ingress", []))
        ]
        self.assertEqual(open_to_all, ["gateway"])


class CallGraph(unittest.TestCase):
    def test_generator_table_matches_the_urls_each_service_reads(self):
        """A service that starts calling another (a new FILIERIS_<NAME>_URL in its
        code) needs a NetworkPolicy change: this fails until the table says so."""
        import re

        pattern = re.compile(r"FILIERIS_(REGISTRY|ACTIVITY|FINANCE|HR|MISSIONS|STEERING)_URL")
        for name, (_, callees, _) in generate.SERVICES.items():
            read = set()
            for path in (REPO / "services" / name / "src").rglob("*.rs"):
                read |= {m.lower() for m in pattern.findall(path.read_text())}
            # The steering report job (a separate process) calls the serving steering.
            read.discard(name)
            self.assertEqual(read, set(callees), name)


if __name__ == "__main__":
    unittest.main(verbosity=1)
