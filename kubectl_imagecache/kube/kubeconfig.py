"""Kubernetes API access.

The Kubernetes client is imported inside functions only: `import kubernetes.client` costs ~0.9 s,
and commands that never talk to a cluster (and `--help`) must not pay for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Tuple

from kubectl_imagecache.errors import UsageError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["api_client", "kubeconfig_paths", "context_namespace"]

# The separator the Python client splits a kubeconfig string on (kubernetes.config.kube_config
# ENV_KUBECONFIG_PATH_SEPARATOR), which is also the one KUBECONFIG uses.
_SEPARATOR = os.pathsep


def kubeconfig_paths(kubeconfig: Optional[str]) -> Tuple[List[str], str]:
    """(files to read, what to call them in messages), as kubectl chooses them.

    `--kubeconfig` names exactly one file, which must exist. Else every file listed in $KUBECONFIG
    that exists (missing ones are skipped, as kubectl does), else ~/.kube/config. $KUBECONFIG is read
    now, not at import: the client's KUBE_CONFIG_DEFAULT_LOCATION is frozen when it is imported.
    """
    if kubeconfig:
        path = os.path.expanduser(kubeconfig)
        if _SEPARATOR in path:
            # The client splits its config_file argument on the separator, so such a path would be
            # read as several files.
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
        unique = list(dict.fromkeys(existing))
        return unique, f"KUBECONFIG={env}"
    default = os.path.join(os.path.expanduser("~"), ".kube", "config")
    if not os.path.isfile(default):
        raise UsageError(f"no kubeconfig found: {default} does not exist; set KUBECONFIG or pass --kubeconfig FILE")
    return [default], default


def _read_kubeconfig(path: str) -> Any:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise UsageError(f"kubeconfig {path}: {e.strerror or type(e).__name__}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        # No excerpt of the file: kubeconfigs hold tokens and keys.
        raise UsageError(f"kubeconfig {path}: not valid YAML") from None


def _contexts(doc: Any) -> List[str]:
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts"), list):
        return []
    return [c["name"] for c in doc["contexts"] if isinstance(c, dict) and isinstance(c.get("name"), str)]


def _merged(docs: List[Tuple[str, Any]]) -> dict:
    """The files merged as kubectl merges them: for each named entry, the first file wins."""
    merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for _, doc in docs:
        if not isinstance(doc, dict):
            continue
        for key in ("clusters", "users", "contexts"):
            names = {e.get("name") for e in merged[key]}
            for entry in doc.get(key) or []:
                if isinstance(entry, dict) and entry.get("name") not in names:
                    merged[key].append(entry)
    return merged


def api_client(
    kubeconfig: Optional[str],
    context: Optional[str],
    cluster: Optional[str] = None,
    user: Optional[str] = None,
    retries: Optional[int] = None,
) -> ApiClient:
    """An ApiClient for `context` (default: the current context) of the kubeconfig kubectl would use.

    `retries` replaces urllib3's default (3 retries): with --request-timeout, 0, so the timeout bounds
    the request as kubectl's does instead of being paid four times.

    Uses `load_kube_config(..., persist_config=False)` into its own Configuration: never `load_config`
    (it prints to stdout and falls back to in-cluster config) and never writes back to a kubeconfig.

    With several files in $KUBECONFIG the client merges clusters/users/contexts first-file-wins as
    kubectl does, but takes `current-context` from the LAST file that sets it; kubectl takes it from
    the first. So the context is chosen here and always passed explicitly.
    """
    paths, label = kubeconfig_paths(kubeconfig)
    docs = [(p, _read_kubeconfig(p)) for p in paths]
    context = _choose_context(docs, context, label)

    from .gcpause import import_client

    import_client()  # with the collector paused, then frozen: 0.1-0.2 s less CPU per run (bench/cluster.py)
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        with _exec_failures() as failures:
            if cluster or user:
                api = _client_with_overrides(docs, context, cluster, user, label, retries)
            else:
                configuration = client.Configuration()
                configuration.retries = retries
                config.load_kube_config(config_file=_SEPARATOR.join(paths), context=context,
                                        client_configuration=configuration, persist_config=False)
                api = client.ApiClient(configuration=configuration)
    except ConfigException as e:
        # The client's messages name keys and files (e.g. a missing cluster or certificate file).
        raise UsageError(f'kubeconfig {label}, context "{context}": {e}') from None
    if failures:
        # The client logs a failed exec credential plugin and goes on without credentials, so the
        # server would answer as to an anonymous user ("forbidden"): say what really went wrong.
        from ..errors import ClusterUnauthorized

        raise ClusterUnauthorized(
            f'cannot get credentials for context "{context}" from its exec plugin ({failures[0]}); '
            "log in again or fix the plugin"
        )
    return api


class _ExecFailureLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("exec:"):
            self.messages.append(message)


@contextlib.contextmanager
def _exec_failures() -> Iterator[List[str]]:
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


def _client_with_overrides(
    docs: List[Tuple[str, Any]], context: str, cluster: Optional[str], user: Optional[str], label: str,
    retries: Optional[int] = None,
) -> ApiClient:
    """--cluster/--user replace the context's cluster or user, as kubectl's flags do."""
    import copy

    from kubernetes import client, config

    merged = copy.deepcopy(_merged(docs))
    for flag, key, value in (("--cluster", "clusters", cluster), ("--user", "users", user)):
        if value and value not in {e.get("name") for e in merged[key]}:
            known = ", ".join(str(e.get("name")) for e in merged[key]) or "none"
            raise UsageError(f'{flag} "{value}" not found in kubeconfig {label} ({key}: {known})')
    for entry in merged["contexts"]:
        if entry.get("name") == context:
            ctx = dict(entry.get("context") or {})
            if cluster:
                ctx["cluster"] = cluster
            if user:
                ctx["user"] = user
            entry["context"] = ctx
    configuration = client.Configuration()
    configuration.retries = retries
    # Relative certificate paths resolve against the first file's folder, as the client does.
    config.load_kube_config_from_dict(merged, context=context, client_configuration=configuration,
                                      persist_config=False, temp_file_path=os.path.dirname(docs[0][0]))
    return client.ApiClient(configuration=configuration)


def _choose_context(docs: List[Tuple[str, Any]], context: Optional[str], label: str) -> str:
    if not context:
        for _, doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get("current-context"), str) and doc["current-context"]:
                context = doc["current-context"]
                break
        else:
            raise UsageError(f"kubeconfig {label} sets no current context; pass --context NAME")

    known: List[str] = []
    for _, doc in docs:
        known.extend(n for n in _contexts(doc) if n not in known)
    if context not in known:
        choices = ", ".join(known) if known else "none"
        raise UsageError(f'context "{context}" not found in kubeconfig {label} (contexts: {choices})')
    return context


def context_namespace(kubeconfig: Optional[str], context: Optional[str]) -> str:
    """The namespace the kubeconfig context names, else "default" (kubectl's -n default)."""
    paths, label = kubeconfig_paths(kubeconfig)
    docs = [(p, _read_kubeconfig(p)) for p in paths]
    name = _choose_context(docs, context, label)
    for _, doc in docs:
        if not isinstance(doc, dict):
            continue
        for entry in doc.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                ns = (entry.get("context") or {}).get("namespace")
                return ns if isinstance(ns, str) and ns else "default"
    return "default"
