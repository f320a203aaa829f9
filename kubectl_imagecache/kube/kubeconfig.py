"""The kubeconfig, as kubectl reads it: one loader that reads and merges the files once.

`Kubeconfig.load(flag)` finds the files (--kubeconfig, else $KUBECONFIG, else ~/.kube/config) and
parses them; the object then answers the context, its namespace, the names of contexts, clusters
and users (completion), and builds the API client, all from that one reading.

The Kubernetes client is imported inside `api_client` only: `import kubernetes.client` costs ~0.9 s,
and commands that never talk to a cluster (and `--help`) must not pay for it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from typing import TYPE_CHECKING, Any, Iterator, Optional, Union

from ..errors import ClusterUnauthorized, UsageError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["Kubeconfig", "kubeconfig_paths", "in_cluster_config", "DEFAULT_NAMESPACE", "ENTRY_KINDS",
           "SERVICE_ACCOUNT_DIR"]

# The separator the Python client splits a kubeconfig string on (kubernetes.config.kube_config
# ENV_KUBECONFIG_PATH_SEPARATOR), which is also the one KUBECONFIG uses.
_SEPARATOR = os.pathsep
DEFAULT_NAMESPACE = "default"  # kubectl's -n when neither the flag nor the context names one
ENTRY_KINDS = ("clusters", "users", "contexts")

Retries = Optional[int]


def kubeconfig_paths(kubeconfig: Optional[str]) -> tuple[list[str], str]:
    """(files to read, what to call them in messages), as kubectl chooses them.

    `--kubeconfig` names exactly one file, which must exist. Else every file listed in $KUBECONFIG
    that exists (missing ones are skipped, as kubectl does), else ~/.kube/config. $KUBECONFIG is read
    now, not at import: the client's KUBE_CONFIG_DEFAULT_LOCATION is frozen when it is imported.
    """
    if kubeconfig:
        path = os.path.expanduser(kubeconfig)
        if _SEPARATOR in path:
            # KUBECONFIG's separator inside one path would make it several files to anyone splitting it.
            raise UsageError(f"--kubeconfig {kubeconfig}: paths containing {_SEPARATOR!r} are not supported")
        if not os.path.isfile(path):
            raise UsageError(f"--kubeconfig {kubeconfig}: no such file")
        return [path], kubeconfig
    env = os.environ.get("KUBECONFIG")
    if env:
        listed = [os.path.expanduser(p) for p in env.split(_SEPARATOR) if p]
        existing = [p for p in listed if os.path.isfile(p)]
        if not existing:
            raise UsageError(
                f"no kubeconfig found: none of the files in KUBECONFIG={env} exists; "
                "set KUBECONFIG or pass --kubeconfig FILE"
            )
        # Duplicates would be merged twice for nothing; keep the first occurrence (it is the one
        # whose entries win).
        return list(dict.fromkeys(existing)), f"KUBECONFIG={env}"
    default = os.path.join(os.path.expanduser("~"), ".kube", "config")
    if not os.path.isfile(default):
        raise UsageError(f"no kubeconfig found: {default} does not exist; set KUBECONFIG or pass --kubeconfig FILE")
    return [default], default


def _read(path: str) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise UsageError(f"kubeconfig {path}: {e.strerror or type(e).__name__}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        # No excerpt of the file: kubeconfigs hold tokens and keys.
        raise UsageError(f"kubeconfig {path}: not valid YAML") from None


class Kubeconfig:
    """The files kubectl would read, parsed once and merged as kubectl merges them."""

    def __init__(self, docs: list[tuple[str, Any]], label: str) -> None:
        self.docs = [(p, d) for p, d in docs if isinstance(d, dict)]
        self.paths = [p for p, _ in docs]
        self.label = label
        # kind -> [(file, entry)]: for each name, the first file that defines it wins (kubectl's rule).
        self._entries: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for kind in ENTRY_KINDS:
            seen: set[Any] = set()
            merged: list[tuple[str, dict[str, Any]]] = []
            for path, doc in self.docs:
                entries = doc.get(kind)
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict) and entry.get("name") not in seen:
                        seen.add(entry.get("name"))
                        merged.append((path, entry))
            self._entries[kind] = merged

    @classmethod
    def load(cls, kubeconfig: Optional[str] = None) -> Kubeconfig:
        try:
            paths, label = kubeconfig_paths(kubeconfig)
        except UsageError:
            # kubectl's rule: with no kubeconfig at all, a pod's own service account is the config.
            found = None if kubeconfig or os.environ.get("KUBECONFIG") else in_cluster_config()
            if found is None:
                raise
            return found
        return cls([(p, _read(p)) for p in paths], label)

    # -- answers --------------------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Names of the contexts, clusters or users, in merge order (for completion and messages)."""
        return [str(e["name"]) for _, e in self._entries[kind] if isinstance(e.get("name"), str)]

    def _entry(self, kind: str, name: str) -> Optional[tuple[str, dict[str, Any]]]:
        for path, entry in self._entries[kind]:
            if entry.get("name") == name:
                return path, entry
        return None

    def context(self, name: Optional[str] = None) -> str:
        """The context to use: `name`, else the first file's current-context (kubectl's rule; the
        Python client alone would take the last file's). Checked to exist."""
        if not name:
            for _, doc in self.docs:
                current = doc.get("current-context")
                if isinstance(current, str) and current:
                    name = current
                    break
            else:
                raise UsageError(f"kubeconfig {self.label} sets no current context; pass --context NAME")
        known = self.names("contexts")
        if name not in known:
            choices = ", ".join(known) if known else "none"
            raise UsageError(f'context "{name}" not found in kubeconfig {self.label} (contexts: {choices})')
        return name

    def namespace(self, context: Optional[str] = None) -> str:
        """The namespace the context names, else "default" (kubectl's -n default)."""
        found = self._entry("contexts", self.context(context))
        ctx = found[1].get("context") if found else None
        ns = ctx.get("namespace") if isinstance(ctx, dict) else None
        return ns if isinstance(ns, str) and ns else DEFAULT_NAMESPACE

    # -- the client -----------------------------------------------------------------------------------
    def api_client(self, context: Optional[str] = None, cluster: Optional[str] = None, user: Optional[str] = None,
                   retries: Retries = None) -> ApiClient:
        """An ApiClient for `context` (default: the current context); --cluster/--user replace the
        context's cluster or user, as kubectl's flags do.

        `retries` replaces urllib3's default (3 retries): the API layer passes 0, so the timeout bounds
        the request as kubectl's does instead of being paid four times. Never writes to a kubeconfig
        (persist_config=False) and uses in-cluster config only as load() does, when no kubeconfig exists.
        """
        context = self.context(context)
        for flag, kind, value in (("--cluster", "clusters", cluster), ("--user", "users", user)):
            if value and self._entry(kind, value) is None:
                known = ", ".join(str(e.get("name")) for _, e in self._entries[kind]) or "none"
                raise UsageError(f'{flag} "{value}" not found in kubeconfig {self.label} ({kind}: {known})')

        from .gcpause import import_client

        import_client()  # with the collector paused, then frozen: 0.1-0.2 s less CPU per run (bench/cluster.py)
        from kubernetes import client
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.kube_config import KubeConfigLoader

        configuration = client.Configuration()
        configuration.retries = retries
        try:
            with _exec_failures() as failures:
                loader = KubeConfigLoader(config_dict=self._client_config(context, cluster, user),
                                          active_context=context, config_base_path=None)
                loader.load_and_set(configuration)
        except ConfigException as e:
            # The client's messages name keys and files (e.g. a missing cluster or certificate file).
            raise UsageError(f'kubeconfig {self.label}, context "{context}": {e}') from None
        command = self._exec_command(context, user) if failures else None
        if failures and command:
            # The client logs a failed exec credential plugin and goes on without credentials, so the
            # server would answer as to an anonymous user ("forbidden"): say what really went wrong.
            if failures[0].startswith("[Errno 2]") or "No such file" in failures[0]:
                raise ClusterUnauthorized(
                    f'cannot get credentials for context "{context}": its exec credential plugin "{command}" was '
                    "not found; install it (or put it on PATH) and try again"
                )
            raise ClusterUnauthorized(
                f'cannot get credentials for context "{context}" from its exec plugin "{command}" ({failures[0]}); '
                "log in again or fix the plugin"
            )
        import urllib3

        # With insecure-skip-tls-verify, urllib3 warns once per request with its own file path; kubectl
        # says nothing either (the kubeconfig asked for it).
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        from .handshake import bound_tls_handshake

        api = client.ApiClient(configuration=configuration)
        bound_tls_handshake(api.rest_client.pool_manager)  # a stalled server ends a command in 10 s, as kubectl
        return api

    def _exec_command(self, context: str, user: Optional[str]) -> Optional[str]:
        """The exec credential plugin's command of the user the context (or --user) names, if any."""
        found = self._entry("contexts", context)
        ctx = found[1].get("context") if found else None
        name = user or (ctx.get("user") if isinstance(ctx, dict) else None)
        entry = self._entry("users", name) if isinstance(name, str) else None
        spec = entry[1].get("user") if entry else None
        exec_spec = spec.get("exec") if isinstance(spec, dict) else None
        command = exec_spec.get("command") if isinstance(exec_spec, dict) else None
        return str(command) if command else None

    def _client_config(self, context: str, cluster: Optional[str], user: Optional[str]) -> Any:
        """The merged config as the client's own KubeConfigMerger builds it: every entry a ConfigNode
        that remembers its file, so relative certificate paths resolve against that file's folder."""
        from kubernetes.config.kube_config import ConfigNode

        def node(path: str, entry: dict[str, Any]) -> Any:
            return ConfigNode(f"{path}/{entry}", entry, path)

        first = self.docs[0][0] if self.docs else self.paths[0]
        merged: dict[str, Union[list[Any], str]] = {"apiVersion": "v1", "kind": "Config", "current-context": context}
        for kind in ENTRY_KINDS:
            items = []
            for path, entry in self._entries[kind]:
                if kind == "contexts" and entry.get("name") == context and (cluster or user):
                    entry = copy.deepcopy(entry)
                    ctx = entry["context"] = dict(entry.get("context") or {})
                    if cluster:
                        ctx["cluster"] = cluster
                    if user:
                        ctx["user"] = user
                items.append(node(path, entry))
            merged[kind] = items
        return ConfigNode(first, merged, first)


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
IN_CLUSTER = "in-cluster"  # the context, cluster and user names of the synthesized config


def in_cluster_config(directory: Optional[str] = None) -> Optional[Kubeconfig]:
    """The pod's service account as a one-context kubeconfig, as client-go's InClusterConfig reads it:
    KUBERNETES_SERVICE_HOST/PORT, the token and CA in ``directory``, the namespace file for -n.
    None when this is not a pod (either variable unset, or no token file).

    The token is named by path (tokenFile), never copied: the client rereads it as kubelet rotates it.
    """
    directory = directory or SERVICE_ACCOUNT_DIR
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    token = os.path.join(directory, "token")
    if not host or not port or not os.path.isfile(token):
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    cluster: dict[str, Any] = {"server": f"https://{host}:{port}"}
    ca = os.path.join(directory, "ca.crt")
    if os.path.isfile(ca):
        cluster["certificate-authority"] = ca
    context: dict[str, Any] = {"cluster": IN_CLUSTER, "user": IN_CLUSTER}
    try:
        with open(os.path.join(directory, "namespace"), encoding="utf-8") as f:
            namespace = f.read(256).strip()
    except OSError:
        namespace = ""
    if namespace:
        context["namespace"] = namespace
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": IN_CLUSTER,
           "clusters": [{"name": IN_CLUSTER, "cluster": cluster}],
           "users": [{"name": IN_CLUSTER, "user": {"tokenFile": token}}],
           "contexts": [{"name": IN_CLUSTER, "context": context}]}
    return Kubeconfig([(os.path.join(directory, "kubeconfig"), doc)], f"in-cluster ({directory})")


class _ExecFailureLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The loader logs exec failures as "exec: ..." or, for an exception (a command not found), as the
        # exception's text alone: every error the loader logs while it loads is one.
        if record.module in ("kube_config", "exec_provider") or record.getMessage().startswith("exec:"):
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _exec_failures() -> Iterator[list[str]]:
    """Messages of exec plugin failures the client logs (on the root logger) while it loads a config.

    Our handler on the root logger also keeps `logging.error` from calling basicConfig, which would
    print "ERROR:root:..." lines on stderr.
    """
    handler = _ExecFailureLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.messages
    finally:
        root.removeHandler(handler)
