"""List rows, describe text and wait judgements. Pure."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kubectl_imagecache.cli.view import describe, expires_text, list_row
from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.plan import ANN_DIGESTS, ANN_WORKLOADS
from kubectl_imagecache.kube.waiting import judge, parse_for

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
OBJ = {
    "metadata": {"name": "c1", "creationTimestamp": "2026-11-26T10:00:00Z",
                 "annotations": {ANN_DIGESTS: json.dumps({"docker.io/library/nginx:1": "sha256:" + "a" * 64}),
                                 ANN_WORKLOADS: json.dumps(["deployment/shop/web"]), "k8s.aliyun.com/x": "y"}},
    "spec": {"images": ["nginx:1", "redis:7"], "imageCacheSize": 30, "imagePullSecrets": ["shop:regcred"],
             "retentionDays": 2},
    "status": {"phase": "Failed", "progress": "40%", "imageCacheId": "imc-abc", "reason": "image missing",
               "events": [{"type": "Warning", "name": "ImageMissing", "message": "redis:7 not found",
                           "timestamp": "2026-11-26T10:01:00Z"}]},
}


def test_list_row_and_wide() -> None:
    assert list_row(OBJ, NOW) == ["c1", "Failed", "40%", "imc-abc", "30Gi", "2", "in 46h", "120m"]
    wide = list_row(OBJ, NOW, wide=True)
    assert wide[-2:] == ["nginx:1,redis:7", "shop:regcred"]
    assert list_row({"metadata": {"name": "x"}, "spec": {"images": []}}, NOW)[1:4] == ["Pending", "0%", "<none>"]


def test_expires() -> None:
    assert expires_text({"status": {"expireDateTime": "2026-11-26T11:00:00Z"}}, NOW) == "60m ago"
    assert expires_text({"metadata": {}, "spec": {}}, NOW) == "never"


def test_describe_has_everything() -> None:
    text = describe(OBJ, NOW)
    for fragment in ("Name:           c1", "shop:regcred", "Phase:        Failed", "Reason:       image missing",
                     "deployment/shop/web", "sha256:" + "a" * 64, "ImageMissing", "redis:7 not found",
                     "k8s.aliyun.com/x=y", "2 days"):
        assert fragment in text, fragment


def test_judge() -> None:
    assert judge("c1", OBJ, "Ready").done and not judge("c1", OBJ, "Ready").ok
    ready = {**OBJ, "status": {"phase": "Ready", "progress": "100%"}}
    assert judge("c1", ready, "Ready").ok
    creating = {**OBJ, "status": {"phase": "Creating", "progress": "10%"}}
    assert not judge("c1", creating, "Ready").done
    assert judge("c1", None, "delete").ok
    assert judge("c1", None, "Ready").done and not judge("c1", None, "Ready").ok
    assert judge("c1", OBJ, "Failed").ok


@pytest.mark.parametrize("text, target", [("Ready", "Ready"), ("phase=Failed", "Failed"),
                                          ("condition=Ready", "Ready"), ("delete", "delete"), ("ready", "Ready")])
def test_parse_for(text: str, target: str) -> None:
    assert parse_for(text) == target


def test_parse_for_rejects() -> None:
    with pytest.raises(UsageError, match="--for"):
        parse_for("condition=Available")
