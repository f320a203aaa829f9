"""The Lease's answers told by HTTP status, against a small API server on loopback that answers
as kube-apiserver does when the Lease's namespace does not exist (404 on get and on create)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from kubectl_imagecache.cli.options import KubeFlags
from kubectl_imagecache.errors import EXIT_NOT_FOUND, ClusterNotFound
from kubectl_imagecache.kube.lease import LEASE_NAMESPACE, acquire


class NoNamespace(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ns = self.path.split("/namespaces/")[1].split("/")[0]
        what = ("namespaces", ns) if self.command == "POST" else ("leases.coordination.k8s.io", "the-lease")
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                           "code": 404, "message": f'{what[0]} "{what[1]}" not found'}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NoNamespace)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{httpd.server_address[1]}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    yield config
    httpd.shutdown()
    httpd.server_close()


def test_a_missing_namespace_is_named_with_how_to_make_it(server: Path) -> None:
    cluster = KubeFlags(kubeconfig=str(server)).complete().connect()
    with pytest.raises(ClusterNotFound) as shipped:
        acquire(cluster, LEASE_NAMESPACE, "me", 60)
    assert shipped.value.exit_code == EXIT_NOT_FOUND and shipped.value.status == 404
    assert shipped.value.message == ('namespace "kubectl-imagecache" of the sync Lease does not exist: create it with '
                                     "`kubectl apply -k deploy/sync` (or name another with --lease-namespace); "
                                     "nothing was done")
    with pytest.raises(ClusterNotFound, match="create it with `kubectl create namespace elsewhere`"):
        acquire(cluster, "elsewhere", "me", 60)
