#!/usr/bin/env python3
"""Renders a kustomization the way `kustomize build` does, for the subset of
kustomize that deploy/k8s uses. Neither the kustomize binary nor kubectl can be
installed on the CI machine (no Go toolchain, no release downloads), so CI
renders with this; operators use `kubectl apply -k` and get the same objects.

Supported fields (anything else is an error, so the subset cannot silently
drift): resources (files, or directories holding a kustomization.yaml),
namespace, labels (pairs, metadata only), images (name, newName, newTag),
replicas (name, count), patches (path, optional target kind/name/labelSelector).

Patches are strategic-merge patches restricted to the rules our patches need:
maps merge recursively, a null value deletes the key, lists of maps whose items
all have a `name` merge item by item on it (containers, env, volumes), any
other list is replaced. That is what kustomize does for these fields.
"""
import copy
import pathlib
import sys

import yaml

KNOWN = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "replicas", "patches"}
# Kinds that live outside any namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass"}


class KustomizeError(Exception):
    pass


def load_yaml_docs(path):
    with open(path) as f:
        try:
            return [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            raise KustomizeError(f"{path}: not YAML: {e}") from e


def merge(base, patch):
    """Strategic-merge subset, see the module doc."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            for i, existing in enumerate(out):
                if existing["name"] == item["name"]:
                    out[i] = merge(existing, item)
                    break
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _named(items):
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def matches(obj, target):
    if "kind" in target and obj.get("kind") != target["kind"]:
        return False
    if "name" in target and obj.get("metadata", {}).get("name") != target["name"]:
        return False
    if "labelSelector" in target:
        labels = obj.get("metadata", {}).get("labels", {}) or {}
        for term in target["labelSelector"].split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
    return True


def build(directory):
    directory = pathlib.Path(directory)
    kfile = directory / "kustomization.yaml"
    if not kfile.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    docs = load_yaml_docs(kfile)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise KustomizeError(f"{kfile}: expected one mapping")
    k = docs[0]
    unknown = set(k) - KNOWN
    if unknown:
        raise KustomizeError(f"{kfile}: fields not supported by kustomize_lite: {sorted(unknown)}")

    objects = []
    for entry in k.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(build(path))
        elif path.is_file():
            objects.extend(load_yaml_docs(path))
        else:
            raise KustomizeError(f"{kfile}: resource {entry} does not exist")
    for obj in objects:
        if not isinstance(obj, dict) or "kind" not in obj or "metadata" not in obj:
            raise KustomizeError(f"{kfile}: a resource without kind or metadata: {str(obj)[:80]}")

    for patch in k.get("patches", []):
        path = directory / patch["path"]
        pdocs = load_yaml_docs(path)
        if len(pdocs) != 1:
            raise KustomizeError(f"{path}: a patch file holds exactly one document")
        body = pdocs[0]
        target = patch.get("target") or {"kind": body.get("kind"), "name": body.get("metadata", {}).get("name")}
        hits = [i for i, obj in enumerate(objects) if matches(obj, target)]
        if not hits:
            raise KustomizeError(f"{path}: patch target {target} matches nothing")
        for i in hits:
            if patch.get("target"):
                # A targeted patch applies to objects of any name.
                body = dict(body, metadata=dict(body.get("metadata", {}), name=objects[i]["metadata"]["name"]))
            objects[i] = merge(objects[i], body)

    for rep in k.get("replicas", []):
        hits = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == rep["name"]]
        if not hits:
            raise KustomizeError(f"{kfile}: replicas for unknown workload {rep['name']}")
        for o in hits:
            o["spec"]["replicas"] = rep["count"]

    for image in k.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                name, tag = _split_image(container.get("image", ""))
                if name == image["name"]:
                    new_name = image.get("newName", name)
                    new_tag = image.get("newTag", tag)
                    container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name

    for block in k.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(block.get("pairs", {}))

    if "namespace" in k:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = k["namespace"]
    return objects


def _containers(obj):
    spec = obj.get("spec", {})
    if obj.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return list(pod.get("containers", [])) + list(pod.get("initContainers", []))


def _split_image(image):
    # A tag is after the last ':' unless that ':' belongs to a registry port.
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, ""
    return name, tag


def main(argv):
    if len(argv) != 2:
        print("usage: kustomize_lite.py DIR", file=sys.stderr)
        return 2
    try:
        objects = build(argv[1])
    except KustomizeError as e:
        print(f"kustomize_lite: {e}", file=sys.stderr)
        return 1
    yaml.safe_dump_all(objects, sys.stdout, sort_keys=False, width=200)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
