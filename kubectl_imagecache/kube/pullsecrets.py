"""Kubernetes pull secrets: the one path from `NAMESPACE:NAME` to registry credentials.

Parses `--pull-secret` specs, reads docker-config secrets and turns them into `Credential`s, and
discovers the secrets a set of workloads pulls with (their pod spec's imagePullSecrets and their
service accounts'). Reads go through functions the caller passes (`Cluster.get_secret`...), each
answered once per (namespace, name): 100 workloads that share a service account cost one GET.

Secrets stay in memory: errors name the secret, never its content.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from ..errors import EXIT_NOT_FOUND, ClusterNotFound, CredentialError, Forbidden, ImageCacheError, UsageError
from ..registry.credentials import Credential, PullSecret, auths_from_mapping
from .kubeconfig import DEFAULT_NAMESPACE
from .names import is_label, is_subdomain

__all__ = [
    "DOCKERCONFIGJSON", "DOCKERCFG", "DOCKER_SECRET_TYPES", "parse_pull_secret_spec", "credentials_from_secret",
    "load_pull_secrets", "Reads", "Discovered", "discover",
]

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKER_SECRET_TYPES = (DOCKERCONFIGJSON, DOCKERCFG)
_DATA_KEYS = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}

Getter = Callable[[str, str], Mapping[str, Any]]


def parse_pull_secret_spec(spec: str) -> tuple[str, str]:
    """`NAMESPACE:NAME` -> (namespace, name), both checked against Kubernetes' naming rules."""
    namespace, sep, name = spec.partition(":")
    if not sep or not is_label(namespace) or not is_subdomain(name):
        raise UsageError(
            f"--pull-secret {spec!r}: expected --pull-secret NAMESPACE:NAME "
            "(lowercase letters, digits, '-'; the name may also contain '.')"
        )
    return namespace, name


def credentials_from_secret(
    namespace: str, name: str, secret_type: Optional[str], data: Optional[Mapping[str, str]]
) -> dict[str, Credential]:
    """Credentials of a pull secret, keyed as the secret keys them.

    `data` is the Secret's `data` as the API returns it (base64 values). Supports
    `kubernetes.io/dockerconfigjson` (`.dockerconfigjson` = {"auths": {...}}) and
    `kubernetes.io/dockercfg` (`.dockercfg` = the auths map itself).
    """
    label = f"pull secret {namespace}/{name}"
    data_key = _DATA_KEYS.get(secret_type or "")
    if data_key is None:
        raise CredentialError(
            f"{label} has type {secret_type or '(none)'}; "
            f"a pull secret must be of type {DOCKERCONFIGJSON} or {DOCKERCFG}"
        )
    raw = (data or {}).get(data_key)
    if not raw:
        raise CredentialError(f"{label} (type {secret_type}) has no {data_key} key")
    try:
        decoded = json.loads(base64.b64decode(raw, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError):
        # ValueError covers UnicodeDecodeError and JSONDecodeError; neither is echoed.
        raise CredentialError(f"{label}: {data_key} is not base64-encoded JSON") from None
    if not isinstance(decoded, dict):
        raise CredentialError(f"{label}: {data_key} must hold a JSON object")
    if secret_type == DOCKERCONFIGJSON:
        auths = decoded.get("auths")
        if auths is None:
            raise CredentialError(f'{label}: {data_key} has no "auths" object')
    else:
        auths = decoded
    return auths_from_mapping(auths, label, label)


def _not_docker_config(namespace: str, name: str, secret: Mapping[str, Any]) -> Optional[str]:
    """Why a secret named as a pull secret cannot be one (None: it can), in the words of every command."""
    if secret.get("type") in DOCKER_SECRET_TYPES:
        return None
    return (f"secret {namespace}/{name} is of type {secret.get('type')}, not a docker-config secret "
            f"({' or '.join(DOCKER_SECRET_TYPES)})")


def _pull_secret(namespace: str, name: str, secret: Mapping[str, Any]) -> PullSecret:
    creds = credentials_from_secret(namespace, name, secret.get("type"), secret.get("data"))
    return PullSecret(namespace=namespace, name=name, credentials=creds)


def load_pull_secrets(specs: Sequence[str], get_secret: Getter) -> list[PullSecret]:
    """Read the pull secrets named by `--pull-secret NAMESPACE:NAME` from the cluster, in order.

    `get_secret(namespace, name)` returns the Secret as the API does (e.g. kube.api.Cluster.get_secret,
    which turns API failures into our typed errors: not found, forbidden, unreachable...). All specs
    are checked before the first read, and nothing is read (nor the Kubernetes client imported)
    when there are none.
    """
    parsed = list(dict.fromkeys(parse_pull_secret_spec(spec) for spec in specs))
    result: list[PullSecret] = []
    for namespace, name in parsed:
        label = f"pull secret {namespace}/{name}"
        try:
            secret = get_secret(namespace, name)
        except ImageCacheError as e:
            # Same error type and exit code, with the secret named the way the user gave it.
            if e.exit_code == EXIT_NOT_FOUND:
                raise e.__class__(f"{label} not found", exit_code=e.exit_code) from None
            raise e.__class__(f"cannot read {label}: {e.message}", exit_code=e.exit_code) from None
        problem = _not_docker_config(namespace, name, secret)
        if problem:
            raise UsageError(problem)  # as warm and sync refuse it: the user named the wrong secret
        result.append(_pull_secret(namespace, name, secret))
    return result


class Reads:
    """Secrets and service accounts, each read at most once per (namespace, name); "not found" is
    remembered too. Other failures (forbidden, unreachable) end the command, so they are not kept."""

    def __init__(self, get_secret: Getter, get_service_account: Getter) -> None:
        self._getters = {"secret": get_secret, "serviceaccount": get_service_account}
        self._answers: dict[tuple[str, str, str], Any] = {}

    def _get(self, kind: str, namespace: str, name: str) -> Mapping[str, Any]:
        key = (kind, namespace, name)
        if key not in self._answers:
            try:
                self._answers[key] = self._getters[kind](namespace, name)
            except ClusterNotFound as exc:
                self._answers[key] = exc
        answer = self._answers[key]
        if isinstance(answer, ClusterNotFound):
            raise answer
        return answer  # type: ignore[no-any-return]

    def secret(self, namespace: str, name: str) -> Mapping[str, Any]:
        return self._get("secret", namespace, name)

    def service_account(self, namespace: str, name: str) -> Mapping[str, Any]:
        return self._get("serviceaccount", namespace, name)


@dataclass
class Discovered:
    names: list[str] = field(default_factory=list)  # NAMESPACE:NAME, as spec.imagePullSecrets names them
    secrets: list[PullSecret] = field(default_factory=list)
    # namespace -> "NS/NAME (why)" of the first secret there RBAC let us not read (discover(where_granted=True))
    unread: dict[str, str] = field(default_factory=dict)


def _wanted(workloads: Iterable[Mapping[str, Any]], explicit: Sequence[tuple[str, str]],
            reads: Reads) -> dict[tuple[str, str], bool]:
    """(namespace, name) of every secret to read -> whether the user named it (--pull-secret)."""
    from ..model.kinds import workload_pull_secrets, workload_service_account

    wanted: dict[tuple[str, str], bool] = {(ns, n): True for ns, n in explicit}
    for obj in workloads:
        ns = (obj.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE
        for name in workload_pull_secrets(obj):
            wanted.setdefault((ns, name), False)
        sa = workload_service_account(obj)
        if not sa:
            continue
        try:
            account = reads.service_account(ns, sa)
        except ClusterNotFound:
            continue  # pods of a workload whose account is missing do not start; nothing to add
        for ref in account.get("imagePullSecrets") or []:
            if isinstance(ref, Mapping) and ref.get("name"):
                wanted.setdefault((ns, str(ref["name"])), False)
    return wanted


def discover(workloads: Iterable[Mapping[str, Any]], explicit: Sequence[tuple[str, str]], reads: Reads,
             warn: Callable[[str], None], where_granted: bool = False) -> Discovered:
    """Every usable pull secret of `explicit` (--pull-secret, must exist and be docker-config secrets)
    and of the workloads (a missing or foreign one is warned about and skipped: the cloud would skip it).

    ``where_granted``: a workload's secret RBAC forbids reading is named all the same (the cloud reads
    it with its own rights) and kept in ``unread``, for sync deployed with secrets granted per namespace."""
    out = Discovered()
    for (ns, name), was_explicit in _wanted(workloads, explicit, reads).items():
        try:
            secret = reads.secret(ns, name)
        except Forbidden as exc:
            if was_explicit or not where_granted:
                raise
            out.unread.setdefault(ns, f"{ns}/{name} ({exc.message})")
            out.names.append(f"{ns}:{name}")
            continue
        except ClusterNotFound:
            if was_explicit:
                raise ClusterNotFound(f"pull secret {ns}/{name} not found (--pull-secret {ns}:{name})") from None
            warn(f"pull secret {ns}/{name} named by a workload does not exist; the cache will not use it")
            continue
        message = _not_docker_config(ns, name, secret)
        if message:
            if was_explicit:
                raise UsageError(message)
            warn(message + "; skipped")
            continue
        out.secrets.append(_pull_secret(ns, name, secret))
        out.names.append(f"{ns}:{name}")
    return out
