"""deploy/sync against a real API server: it applies, and its service account may do exactly what sync does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.commands_support import deploy_sync_applied
from tests.fakes.controlplane import ControlPlane

SA = "system:serviceaccount:kubectl-imagecache:imagecache-sync"
NS = "kubectl-imagecache"


@pytest.fixture(scope="module")
def applied(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    with deploy_sync_applied(control_plane) as cp:
        yield cp


def can(cp: ControlPlane, verb: str, resource: str, *where: str) -> bool:
    out = cp.kubectl("auth", "can-i", verb, resource, f"--as={SA}", *where, check=False)
    assert out.stdout.strip() in ("yes", "no"), out.stderr
    return out.stdout.strip() == "yes"


def test_the_service_account_may_do_what_sync_does_and_no_more(applied: ControlPlane) -> None:
    cp = applied
    allowed = [("list", "imagecaches.eci.alibabacloud.com"), ("watch", "imagecaches.eci.alibabacloud.com"),
               ("create", "imagecaches.eci.alibabacloud.com"), ("delete", "imagecaches.eci.alibabacloud.com"),
               ("list", "deployments.apps"), ("list", "cronjobs.batch"), ("list", "pods"), ("create", "events"),
               ("get", "secrets"), ("get", "serviceaccounts")]
    for verb, resource in allowed:
        assert can(cp, verb, resource, "-A"), (verb, resource)
    denied = [("get", "imagecaches.eci.alibabacloud.com"), ("list", "events"),
              ("patch", "imagecaches.eci.alibabacloud.com"), ("update", "imagecaches.eci.alibabacloud.com"),
              ("list", "secrets"), ("watch", "secrets"), ("create", "pods"), ("delete", "deployments.apps"),
              ("get", "configmaps")]
    for verb, resource in denied:
        assert not can(cp, verb, resource, "-A"), (verb, resource)
    assert can(cp, "create", "leases.coordination.k8s.io", "-n", NS)
    assert can(cp, "update", "leases.coordination.k8s.io/kubectl-imagecache-sync", "-n", NS)
    assert not can(cp, "update", "leases.coordination.k8s.io/other", "-n", NS)
    assert not can(cp, "create", "leases.coordination.k8s.io", "-n", "default")


def test_the_cronjob_is_stored_as_written(applied: ControlPlane) -> None:
    out = applied.kubectl("get", "cronjob", "imagecache-sync", "-n", NS,
                          "-o", "jsonpath={.spec.concurrencyPolicy} {.spec.jobTemplate.spec.template.spec."
                                "serviceAccountName}")
    assert out.stdout == "Forbid imagecache-sync"
