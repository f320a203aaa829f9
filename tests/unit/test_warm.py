"""cli/commands/warm in-process: flags checked before any request, sources named when they are wrong."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_imagecache.cli.commands.warm import Sources, WarmOptions, _looks_like_workload
from kubectl_imagecache.cli.options import DryRun, KubeFlags
from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.sources import images_from_objects


def live_deployment(image: str) -> dict[str, Any]:
    """A Deployment as the API server returns it: no file, no document number."""
    return {"kind": "Deployment", "metadata": {"namespace": "shop", "name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "ok", "image": "nginx:1.27"},
                                                          {"name": "app", "image": image}]}}}}


def test_an_invalid_image_of_a_live_workload_names_the_workload_and_container() -> None:
    with pytest.raises(UsageError) as info:
        Sources().add(images_from_objects([live_deployment("Registry.example/UPPER:1")]))
    assert info.value.message.startswith('deployment/shop/web: container "app": ')


@pytest.mark.parametrize("text, habit", [
    ("deployment/web", True), ("deploy/web", True), ("sts/db", True), ("Pod/x", True), ("cronjob/nightly", True),
    ("deployment/web:1.0", False), ("deployment/web@sha256:" + "a" * 64, False), ("nginx", False),
    ("library/nginx", False), ("deployment/team/web", False), ("registry.example/deploy", False),
])
def test_type_name_habit(text: str, habit: bool) -> None:
    assert _looks_like_workload(text) is habit


def options(**kwargs: Any) -> WarmOptions:
    # A kubeconfig that does not exist: any attempt to read it would fail differently.
    return WarmOptions(kube_flags=KubeFlags(kubeconfig="/nonexistent/kubeconfig"), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"images": ("deployment/web",)}, "did you mean --from deployment/web?"),
    ({"images": ("nginx",), "froms": ("widget/web",)}, '--from "widget/web" must be KIND/NAME with KIND one of '
                                                       "deployment, statefulset, daemonset, replicaset, cronjob, "
                                                       "job, pod"),
    ({"images": ("nginx",), "name": "Bad_Name"}, '--name "Bad_Name" must be a lowercase DNS-1123 name'),
    ({"images": ("nginx",), "name": "a..b"}, '--name "a..b" must be a lowercase DNS-1123 name'),
    ({"images": ("nginx",), "size": 10}, "--size 10 is out of range: an ImageCache is 20 to 32768 GiB"),
    ({"images": ("nginx",), "selector": "a=b"}, "-l/--selector applies to --from-namespace"),
    ({"images": ("nginx",), "wait": True, "dry_run": DryRun.CLIENT}, "--wait waits for created caches"),
    ({"images": ("nginx",), "labels": ("bad key=x",)}, '--label "bad key=x" must be KEY=VALUE'),
    ({"images": ("nginx",), "annotations": ("a/b/c=x",)}, '--annotation "a/b/c=x" must be KEY=VALUE'),
])
def test_every_flag_is_checked_before_the_kubeconfig_is_read(kwargs: dict[str, Any], message: str) -> None:
    opts = options(**kwargs)
    with pytest.raises(UsageError) as info:
        opts.complete()
        opts.validate()
    assert message in info.value.message


def test_all_namespaces_belongs_to_from_namespace() -> None:
    opts = WarmOptions(images=("nginx",), kube_flags=KubeFlags(kubeconfig="/nonexistent", all_namespaces=True))
    opts.complete()
    with pytest.raises(UsageError, match="-A/--all-namespaces applies to --from-namespace"):
        opts.validate()


def test_a_dry_run_prints_yaml_unless_told_otherwise() -> None:
    for dry_run, given, expected in ((DryRun.CLIENT, "", "yaml"), (DryRun.SERVER, "json", "json"),
                                     (DryRun.NONE, "", "")):
        opts = options(images=("nginx",), dry_run=dry_run, output=given)
        opts.complete()
        opts.validate()
        assert (opts.printer.format if opts.printer else "") == expected
