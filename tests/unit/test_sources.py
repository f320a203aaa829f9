"""Image sources: plain lists, manifests of every pod-running kind, stdin, errors, dedup."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.sources import (
    ImageUse,
    Workload,
    images_from_objects,
    parse_image_input,
    pod_spec,
    read_image_file,
    unique_images,
    workload_pull_secrets,
    workload_service_account,
)
from kubectl_imagecache.registry.reference import normalize

DIGEST = "sha256:" + "ab" * 32


def pod_template(*images: str, init: tuple[str, ...] = (), **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "x"}},
        "spec": {
            **spec,
            "initContainers": [{"name": f"init{i}", "image": im} for i, im in enumerate(init)],
            "containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)],
        },
    }


def workload(kind: str, name: str = "web", namespace: str | None = "shop", **kw: Any) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    template = pod_template(*kw.pop("images", ("nginx:1.25",)), **kw)
    if kind == "Pod":
        body: dict[str, Any] = {"spec": template["spec"]}
    elif kind == "CronJob":
        body = {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}
    elif kind == "PodTemplate":
        body = {"template": template}
    else:
        body = {"spec": {"replicas": 1, "template": template}}
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, **body}


def images(uses: list[ImageUse]) -> list[str]:
    return [u.image for u in uses]


# --- objects ----------------------------------------------------------------------------------

POD_KINDS = [
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
]


@pytest.mark.parametrize("kind", POD_KINDS)
def test_every_pod_running_kind(kind: str) -> None:
    obj = workload(kind, images=("nginx:1.25", "redis:7"), init=("busybox",))
    uses = images_from_objects([obj])
    # init containers first: the kubelet pulls them first
    assert images(uses) == ["busybox", "nginx:1.25", "redis:7"]
    assert [u.container for u in uses] == ["init0", "c0", "c1"]
    assert {u.workload for u in uses} == {Workload(kind, "shop", "web")}
    assert str(uses[0].workload) == f"{kind.lower()}/shop/web"


def test_ephemeral_containers_count_for_pods_only() -> None:
    pod = workload("Pod")
    pod["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox:1.36"}]
    assert images(images_from_objects([pod])) == ["nginx:1.25", "busybox:1.36"]
    deploy = workload("Deployment")
    deploy["spec"]["template"]["spec"]["ephemeralContainers"] = [{"name": "d", "image": "busybox"}]
    assert images(images_from_objects([deploy])) == ["nginx:1.25"]


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": []}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "x"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
        {"kind": "Secret", "metadata": {"name": "s"}, "spec": {"template": "not a mapping"}},
    ],
)
def test_kinds_without_pods_are_ignored(obj: dict[str, Any]) -> None:
    assert images_from_objects([obj]) == []


def test_unknown_kind_with_a_pod_template_is_read() -> None:
    rollout = workload("Rollout", images=("app:2",))
    rollout["apiVersion"] = "argoproj.io/v1alpha1"
    assert images(images_from_objects([rollout])) == ["app:2"]


def test_missing_namespace_is_none() -> None:
    (use,) = images_from_objects([workload("Deployment", namespace=None)])
    assert use.workload == Workload("Deployment", None, "web")
    assert str(use.workload) == "deployment/web"


def test_lists_are_walked_recursively() -> None:
    nested = {"kind": "List", "items": [workload("Job", name="j", images=("c:1",))]}
    obj = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [workload("Deployment", images=("a:1",)), {"kind": "Service"}, nested],
    }
    uses = images_from_objects([obj, workload("Pod", name="p", images=("b:1",))])
    assert images(uses) == ["a:1", "c:1", "b:1"]
    assert [u.workload.kind for u in uses if u.workload] == ["Deployment", "Job", "Pod"]


def test_typed_list_items_without_kind_take_it_from_the_list() -> None:
    # the API server returns PodList/DeploymentList items without kind or apiVersion
    pods = [workload("Pod", name=f"p{i}", images=(f"img{i}",)) for i in range(2)]
    for pod in pods:
        del pod["kind"], pod["apiVersion"]
    uses = images_from_objects([{"kind": "PodList", "items": pods}])
    assert images(uses) == ["img0", "img1"]
    assert uses[1].workload == Workload("Pod", "shop", "p1")


def test_empty_and_missing_fields() -> None:
    assert images_from_objects([{"kind": "List", "items": None}]) == []
    assert images_from_objects([{"kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}]) == []
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": " a:1 "}]}}
    assert images(images_from_objects([pod])) == ["a:1"]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metadata": {"name": "x"}}, 'object has no "kind"'),
        ({"kind": "List", "items": [{"metadata": {}}]}, 'items[0] has no "kind"'),
        ({"kind": "List", "items": ["nginx"]}, "items[0] is not a Kubernetes object"),
        ({"kind": "List", "items": {"a": 1}}, '"items" of List must be a list'),
        (
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}},
            'pod/p: container "app" has no image',
        ),
        (
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": ""}]}},
            "pod/p: containers[0] has no image",
        ),
        (
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": {"image": "x"}}},
            "pod/p: containers must be a list",
        ),
    ],
)
def test_malformed_objects(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as info:
        images_from_objects([obj])
    assert message in info.value.message


# --- pull secrets and service accounts --------------------------------------------------------


def test_pull_secrets_and_service_account_of_a_deployment() -> None:
    obj = workload(
        "Deployment",
        serviceAccountName="builder",
        imagePullSecrets=[{"name": "reg"}, {"name": "other"}, {"name": "reg"}, {}],
    )
    assert workload_pull_secrets(obj) == ["reg", "other"]
    assert workload_service_account(obj) == "builder"
    (use,) = images_from_objects([obj])
    assert use.workload is not None
    assert use.workload.pull_secrets == ("reg", "other")
    assert use.workload.service_account == "builder"


@pytest.mark.parametrize("kind", POD_KINDS)
def test_pull_secrets_found_for_every_kind(kind: str) -> None:
    obj = workload(kind, imagePullSecrets=[{"name": "reg"}], serviceAccount="legacy")
    assert workload_pull_secrets(obj) == ["reg"]
    assert workload_service_account(obj) == "legacy"


def test_service_account_defaults_and_no_pods() -> None:
    assert workload_service_account(workload("Job")) == "default"
    assert workload_pull_secrets(workload("Job")) == []
    service = {"kind": "Service", "metadata": {"name": "s"}}
    assert workload_service_account(service) is None
    assert workload_pull_secrets(service) == []
    assert pod_spec(service) is None


def test_workload_identity_ignores_secrets() -> None:
    a = Workload("Deployment", "ns", "web", pull_secrets=("x",), service_account="a")
    b = Workload("Deployment", "ns", "web")
    assert a == b and hash(a) == hash(b)


# --- text input -------------------------------------------------------------------------------


def test_plain_list_with_comments_and_blank_lines() -> None:
    text = textwrap.dedent(
        f"""\
        # images for the shop
        nginx:1.25

        redis:7   # cache
           quay.io/team/app@{DIGEST}
        [::1]:5000/local:dev
        localhost:5000/x\r
        """
    )
    uses = parse_image_input(text, "images.txt")
    assert images(uses) == [
        "nginx:1.25",
        "redis:7",
        f"quay.io/team/app@{DIGEST}",
        "[::1]:5000/local:dev",
        "localhost:5000/x",
    ]
    assert all(u.workload is None and u.container is None for u in uses)
    assert uses[0].origin == "images.txt:2"


def test_empty_input_has_no_images() -> None:
    assert parse_image_input("", "x") == []
    assert parse_image_input("# nothing\n\n", "x") == []
    assert parse_image_input("---\n", "x") == []


def test_plain_list_keeps_invalid_references_for_the_caller() -> None:
    assert images(parse_image_input("Nginx\n", "l.txt")) == ["Nginx"]


def test_plain_list_line_with_spaces_names_the_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_image_input("nginx\n\nnginx latest\n", "images.txt")
    assert info.value.message.startswith('"images.txt" line 3: "nginx latest" has spaces inside')
    assert info.value.exit_code == 2


def test_multi_document_yaml() -> None:
    docs = [workload("Deployment", images=("a:1",), init=("init:1",)), {"kind": "Service"}, None]
    docs.append(workload("CronJob", name="nightly", images=("b:1",)))
    text = yaml.safe_dump_all(docs)
    uses = parse_image_input(text, "deploy.yaml")
    assert images(uses) == ["init:1", "a:1", "b:1"]
    assert uses[2].workload == Workload("CronJob", "shop", "nightly")
    assert uses[2].origin == "deploy.yaml document 4"


def test_json_list() -> None:
    obj = {"apiVersion": "v1", "kind": "List", "items": [workload("StatefulSet", images=("db:16",))]}
    assert images(parse_image_input(json.dumps(obj, indent=2), "all.json")) == ["db:16"]
    assert images(parse_image_input(json.dumps(obj), "all.json")) == ["db:16"]


def test_yaml_with_leading_comment_and_bom() -> None:
    text = "\ufeff# generated\n" + yaml.safe_dump(workload("Pod", images=("x:1",)))
    assert images(parse_image_input(text, "pod.yaml")) == ["x:1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nspec: [\n", '"bad.yaml": invalid YAML at line 3'),
        ("kind: Pod\n  bad: indent\n", '"bad.yaml": invalid YAML at line 2'),
        ('{"kind": "Pod", "spec":\n', '"bad.yaml": invalid YAML'),
        ("image: nginx\n", '"bad.yaml" document 1 (line 1) is a mapping without "kind"'),
        (
            "kind: Service\n---\nmetadata: {name: x}\n",
            '"bad.yaml" document 2 (line 3) is a mapping without "kind"',
        ),
        ("---\nnginx\n---\nkind: Pod\n", '"bad.yaml" document 1 (line 2) is a scalar'),
        ("kind: Service\n---\n- a\n- b\n", '"bad.yaml" document 2 (line 3) is a list'),
        (
            "kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n  spec: {containers: [{name: c}]}\n",
            '"bad.yaml" document 1 (line 1): pod/p: container "c" has no image',
        ),
    ],
)
def test_manifest_errors_name_the_source_and_place(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_image_input(text, "bad.yaml")
    assert info.value.message.startswith(message), info.value.message
    assert "\n" not in info.value.message


# --- files and stdin --------------------------------------------------------------------------


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "images.txt"
    path.write_text("nginx\nredis\n", encoding="utf-8")
    assert images(read_image_file(str(path))) == ["nginx", "redis"]


def test_read_manifest_file(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(workload("DaemonSet", images=("agent:3",))), encoding="utf-8")
    (use,) = read_image_file(str(path))
    assert use.image == "agent:3"
    assert use.workload == Workload("DaemonSet", "shop", "web")


def test_read_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("# list\nnginx\n"))
    (use,) = read_image_file("-")
    assert use.image == "nginx"
    assert use.origin == "stdin:2"


def test_stdin_errors_say_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a b\n"))
    with pytest.raises(UsageError, match=r"^stdin line 1: "):
        read_image_file("-")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        read_image_file(str(tmp_path / "x.yaml"))
    assert info.value.message == f'cannot read "{tmp_path / "x.yaml"}": No such file or directory'
    assert info.value.exit_code == 2


def test_directory_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read .*: Is a directory"):
        read_image_file(str(tmp_path))
    binary = tmp_path / "image.tar"
    binary.write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        read_image_file(str(binary))


# --- deduplication ----------------------------------------------------------------------------


def test_unique_images_by_normalized_reference() -> None:
    uses = [
        "nginx",
        "docker.io/library/nginx:latest",
        "index.docker.io/nginx",
        "nginx:1.25",
        "redis",
        f"nginx@{DIGEST}",
        "docker.io/library/nginx@" + DIGEST,
    ]
    assert unique_images(uses) == ["nginx", "nginx:1.25", "redis", f"nginx@{DIGEST}"]


def test_unique_images_keeps_invalid_references_once() -> None:
    assert unique_images(["Nginx", "nginx", " Nginx ", "a b"]) == ["Nginx", "nginx", "a b"]


def test_unique_images_accepts_uses() -> None:
    uses = images_from_objects(
        [workload("Deployment", images=("app:1", "sidecar")), workload("Job", images=("app:1",))]
    )
    assert len(uses) == 3
    assert unique_images(uses) == ["app:1", "sidecar"]


# --- property: the list parser round trips generated lists of valid references ------------------

COMPONENT = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}", fullmatch=True)
# Without a registry, a "." in the first component would make it one.
FIRST_COMPONENT = st.from_regex(r"[a-z0-9]{1,5}(?:[_-][a-z0-9]{1,5}){0,2}", fullmatch=True)
REGISTRY = st.sampled_from(["", "quay.io/", "localhost:5000/", "registry.example.com:443/", "[::1]:5000/"])
TAG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)


@st.composite
def image_texts(draw: st.DrawFn) -> str:
    registry = draw(REGISTRY)
    first = draw(COMPONENT if registry else FIRST_COMPONENT)
    text = registry + "/".join([first, *draw(st.lists(COMPONENT, max_size=2))])
    if draw(st.booleans()):
        text += ":" + draw(TAG)
    if draw(st.booleans()):
        text += "@sha256:" + draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    return text


EXTRA_LINES = st.lists(st.sampled_from(["", "   ", "# note", "  # indented note", "#"]), max_size=2)
INDENT = st.sampled_from(["", " ", "  ", "\t"])
TRAILING = st.sampled_from(["", " ", "\t", " # why", "\t#", "\r"])


@given(st.lists(st.tuples(EXTRA_LINES, INDENT, image_texts(), TRAILING), max_size=20))
def test_list_parser_round_trips(entries: list[tuple[list[str], str, str, str]]) -> None:
    lines: list[str] = []
    for extra, indent, image, trailing in entries:
        lines += [*extra, f"{indent}{image}{trailing}"]
    uses = parse_image_input("\n".join(lines), "gen.txt")
    given_images = [image for _, _, image, _ in entries]
    assert images(uses) == given_images
    expected_unique = list(dict.fromkeys(normalize(image) for image in given_images))
    assert [normalize(image) for image in unique_images(uses)] == expected_unique
