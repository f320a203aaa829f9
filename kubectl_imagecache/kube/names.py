"""Kubernetes' naming rules (k8s.io/apimachinery/pkg/util/validation), written once.

Namespaces are DNS-1123 labels, most object names (secrets, ImageCaches) DNS-1123 subdomains,
label and annotation keys qualified names with an optional subdomain prefix. Pure.
"""

from __future__ import annotations

import re

__all__ = ["LABEL_MAX", "SUBDOMAIN_MAX", "is_label", "is_subdomain", "is_qualified_name"]

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def is_label(text: str, max_len: int = LABEL_MAX) -> bool:
    """A DNS-1123 label: a namespace, a service account."""
    return len(text) <= max_len and bool(_LABEL.match(text))


def is_subdomain(text: str, max_len: int = SUBDOMAIN_MAX) -> bool:
    """A DNS-1123 subdomain: the name of a secret or of an ImageCache."""
    return len(text) <= max_len and bool(_SUBDOMAIN.match(text))


def is_qualified_name(key: str) -> bool:
    """A label or annotation key: [PREFIX/]NAME, PREFIX a subdomain, NAME at most 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and not is_subdomain(prefix):
        return False
    return len(name) <= LABEL_MAX and bool(_QUALIFIED_NAME.match(name))
