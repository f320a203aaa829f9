"""The Events the executor posts, read back with the real kubectl (describe, get events).

A cache's history is Created (warm), Refreshed on the replacement (refresh, once the old cache is
gone), RefreshFailed on a replacement the cloud could not build, Pruned (prune). A user who may
change caches but not post Events changes them all the same, with one warning for the whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

from tests.cluster.commands_support import Plugin, create_deployment, create_imagecache, created_names, unique
from tests.cluster.test_refresh import push, push_corrupt
from tests.fakes.controlplane import ControlPlane
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

SOURCE = "kubectl-imagecache"


def history(cp: ControlPlane, name: str) -> list[tuple[str, str, str, str]]:
    """(type, reason, source, message) of our Events `kubectl get events` shows about ImageCache ``name``
    (the emulated cloud posts its own too)."""
    out = cp.kubectl("get", "events", "-A", "--field-selector", f"involvedObject.name={name},"
                     "involvedObject.kind=ImageCache", "-o", "yaml")
    return [(e["type"], e["reason"], e["source"]["component"], e["message"])
            for e in yaml.safe_load(out.stdout)["items"] if e["source"].get("component") == SOURCE]


def made(stdout: str) -> list[str]:
    """The names of `imagecache.eci.alibabacloud.com/NAME created` lines (refresh prints a table too)."""
    return [line.split("/", 1)[1].split()[0] for line in stdout.splitlines() if line.endswith(" created")]


def described(cp: ControlPlane, name: str) -> str:
    out = cp.kubectl("describe", "imagecache", name)
    return out.stdout.split("Events:", 1)[1]


def test_created_refreshed_failed_and_pruned_are_in_describe_and_get_events(
        imc: Plugin, control_plane: ControlPlane, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator]) -> None:
    cp, reg = control_plane, plain_registry
    run_emulator()
    repo = unique("events/app")
    image = f"{reg.host}/{repo}:v1"
    push(reg, repo, "v1", f"{repo}-1")
    create_deployment(admin_api, namespace, "web", [image])
    workload = f"deployment/{namespace}/web"
    suite = unique("ev")

    w = imc("warm", "--from", "deployment/web", "-n", namespace, "--label", f"suite={suite}", "--wait",
            "--timeout", "60s")
    assert w.code == 0, w
    [first] = created_names(w.stdout)
    [(kind, reason, source, message)] = history(cp, first)
    assert (kind, reason, source) == ("Normal", "Created", SOURCE)
    assert workload in message and "1 image(s)" in message
    assert "Created" in described(cp, first) and SOURCE in described(cp, first)

    push(reg, repo, "v1", f"{repo}-2")
    r = imc("refresh", first, "--timeout", "60s", "--refresh")
    assert r.code == 0, r
    [second] = made(r.stdout)
    events = history(cp, second)
    assert sorted(e[1] for e in events) == ["Created", "Refreshed"], events
    [refreshed] = [e[3] for e in events if e[1] == "Refreshed"]
    assert f"replaces {first}" in refreshed and image in refreshed and workload in refreshed
    shown = described(cp, second)
    assert "Refreshed" in shown and f"replaces {first}" in shown

    push_corrupt(reg, repo, "v1")
    f = imc("refresh", second, "--timeout", "60s", "--refresh")
    assert f.code == 1, f
    [third] = made(f.stdout)
    events = history(cp, third)
    assert sorted(e[:2] for e in events) == [("Normal", "Created"), ("Warning", "RefreshFailed")], events
    [failed] = [e[3] for e in events if e[1] == "RefreshFailed"]
    assert f"{second} stays" in failed and workload in failed
    assert "RefreshFailed" in described(cp, third)

    p = imc("prune", "--reason", "failed", "--failed-grace", "0s", "-l", f"suite={suite}", "--yes")
    assert p.code == 0, p
    [(kind, reason, source, message)] = [e for e in history(cp, third) if e[1] == "Pruned"]
    assert (kind, source) == ("Normal", SOURCE) and "failed" in message and workload in message
    assert "warning" not in (w.stderr + r.stderr + f.stderr + p.stderr).lower()


def kubeconfig_for(cp: ControlPlane, token: str, dest: Path) -> Path:
    doc = yaml.safe_load(cp.kubeconfig.read_text())
    cluster = doc["contexts"][0]["context"]["cluster"]
    doc["users"] = [{"name": "sa", "user": {"token": token}}]
    doc["contexts"] = [{"name": "sa", "context": {"cluster": cluster, "user": "sa"}}]
    doc["current-context"] = "sa"
    dest.write_text(yaml.safe_dump(doc))
    return dest


def test_a_forbidden_event_is_one_warning_and_the_change_is_made(
        control_plane: ControlPlane, custom_api: Any, namespace: str, tmp_path: Path) -> None:
    cp = control_plane
    role = unique("no-events")
    cp.kubectl("create", "serviceaccount", "pruner", "-n", namespace)
    cp.kubectl("create", "clusterrole", role, "--verb=list,watch,create,delete",
               "--resource=imagecaches.eci.alibabacloud.com")
    cp.kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}",
               f"--serviceaccount={namespace}:pruner")
    try:
        token = cp.kubectl("create", "token", "pruner", "-n", namespace, "--duration", "10m").stdout.strip()
        suite = unique("forbidden")
        names = [unique("ev-expired") for _ in range(2)]
        for n in names:
            create_imagecache(custom_api, n, ["example.com/a:1"], labels={"suite": suite},
                              status={"phase": "Ready", "expireDateTime": "2020-01-01T00:00:00Z"})
        home = tmp_path / "home"
        home.mkdir()
        sa = Plugin(kubeconfig_for(cp, token, tmp_path / "kubeconfig"), home)
        r = sa("prune", "--reason", "expired", "-l", f"suite={suite}", "--yes")
        assert r.code == 0, r
        assert all(f'"{n}" deleted' in r.stdout for n in names), r
        warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "cannot record Events" in warnings[0] and "forbidden" in warnings[0], r.stderr
        assert all(history(cp, n) == [] for n in names)
    finally:
        cp.kubectl("delete", "clusterrolebinding", role, "--ignore-not-found")
        cp.kubectl("delete", "clusterrole", role, "--ignore-not-found")
