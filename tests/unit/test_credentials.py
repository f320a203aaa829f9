"""Credential sources: Docker config, real credential helpers on PATH, pull secrets in the store.

Helpers are real executables run by the code under test (no subprocess mocking). Reading pull
secrets from a cluster is tested in test_pullsecrets.py, choosing the kubeconfig in test_kubeconfig.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_imagecache.errors import (
    EXIT_AUTH,
    CredentialError,
    UsageError,
)
from kubectl_imagecache.kube.pullsecrets import DOCKERCFG, DOCKERCONFIGJSON, credentials_from_secret
from kubectl_imagecache.registry.credentials import (
    Credential,
    CredentialStore,
    DockerConfig,
    PullSecret,
    load_docker_config,
    normalize_registry,
)

# Distinctive values so "never appears" checks cannot pass by accident or fail by coincidence.
PASSWORD = "pw-S3CRET-9f2c41"
TOKEN = "tok-S3CRET-77ab10"
SECRETS = (PASSWORD, TOKEN)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_no_secret(*objects: object) -> None:
    for obj in objects:
        for rendered in (str(obj), repr(obj)):
            for secret in SECRETS:
                assert secret not in rendered, f"secret leaked into {type(obj).__name__}: {rendered}"
                assert b64(secret) not in rendered


def write_config(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may read the developer's real ~/.docker or ~/.kube."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


# --------------------------------------------------------------------------------------------------
# Registry name normalisation


@pytest.mark.parametrize(
    "key, expected",
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("http://registry-1.docker.io/v2", "docker.io"),
        ("https://registry.example.com", "registry.example.com"),
        ("https://registry.example.com/", "registry.example.com"),
        ("http://localhost:5000/v2/", "localhost:5000"),
        ("localhost:5000", "localhost:5000"),
        ("HTTPS://Registry.Example.COM:443/some/path", "registry.example.com:443"),
        ("  quay.io  ", "quay.io"),
    ],
)
def test_normalize_registry(key: str, expected: str) -> None:
    assert normalize_registry(key) == expected


def test_port_is_part_of_the_registry() -> None:
    cfg = DockerConfig(
        path="x", auths={"localhost:5000": Credential("a", "b", None, "s")}, cred_helpers={}, creds_store=None
    )
    store = CredentialStore(cfg)
    assert store.lookup("localhost:5000")
    assert store.lookup("localhost:5001") == []
    assert store.lookup("localhost") == []


# --------------------------------------------------------------------------------------------------
# Docker config: entry kinds


def test_auth_field_splits_on_first_colon(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "config.json", {"auths": {"registry.example.com": {"auth": b64("bob:" + PASSWORD + ":x")}}}
    )
    cfg = load_docker_config(str(path))
    [cred] = CredentialStore(cfg).lookup("registry.example.com")
    assert (cred.username, cred.password, cred.identity_token) == ("bob", PASSWORD + ":x", None)
    assert cred.source == f'docker config {path} (auths "registry.example.com")'


def test_auth_wins_over_username_password_and_trims_nuls(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {"auths": {"r.example": {"auth": b64("bob:pw\x00\x00"), "username": "alice", "password": "other"}}},
    )
    [cred] = CredentialStore(load_docker_config(str(path))).lookup("r.example")
    assert (cred.username, cred.password) == ("bob", "pw")


def test_username_password_fields(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", {"auths": {"r.example": {"username": "alice", "password": PASSWORD}}})
    [cred] = CredentialStore(load_docker_config(str(path))).lookup("r.example")
    assert (cred.username, cred.password, cred.identity_token) == ("alice", PASSWORD, None)


def test_identitytoken_is_kept_as_identity_token(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {"auths": {"myregistry.azurecr.io": {"auth": b64("00000000-0000:"), "identitytoken": TOKEN}}},
    )
    [cred] = CredentialStore(load_docker_config(str(path))).lookup("myregistry.azurecr.io")
    assert cred.identity_token == TOKEN
    assert cred.password is None
    assert "identity token" in str(cred)
    assert_no_secret(cred)


def test_empty_entries_give_nothing(tmp_path: Path) -> None:
    # What `docker login` leaves in auths when a credsStore holds the secret.
    path = write_config(tmp_path / "c.json", {"auths": {"https://index.docker.io/v1/": {}, "x.io": {"email": "e"}}})
    cfg = load_docker_config(str(path))
    assert cfg.auths == {}
    assert CredentialStore(cfg).lookup("docker.io") == []


@pytest.mark.parametrize(
    "key",
    ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "http://docker.io"],
)
@pytest.mark.parametrize("registry", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_aliases_match_each_other(tmp_path: Path, key: str, registry: str) -> None:
    path = write_config(tmp_path / "c.json", {"auths": {key: {"auth": b64("hub:" + PASSWORD)}}})
    [cred] = CredentialStore(load_docker_config(str(path))).lookup(registry)
    assert cred.username == "hub"


@pytest.mark.parametrize(
    "key",
    [
        "https://registry.example.com:5000",
        "http://registry.example.com:5000/",
        "registry.example.com:5000/v2/",
        "https://REGISTRY.example.com:5000/some/path/",
    ],
)
def test_scheme_path_and_trailing_slash_are_ignored(tmp_path: Path, key: str) -> None:
    path = write_config(tmp_path / "c.json", {"auths": {key: {"auth": b64("u:" + PASSWORD)}}})
    assert len(CredentialStore(load_docker_config(str(path))).lookup("registry.example.com:5000")) == 1


def test_other_hosts_never_match(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {"auths": {"registry.example.com": {"auth": b64("u:p")}, "docker.io": {"auth": b64("h:p")}}},
    )
    store = CredentialStore(load_docker_config(str(path)))
    assert store.lookup("evil.example.com") == []
    assert store.lookup("example.com") == []
    assert store.lookup("registry.example.com.evil.io") == []
    assert [c.username for c in store.lookup("quay.io")] == []


def test_exact_docker_key_first_then_file_order(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {
            "auths": {
                "docker.io": {"auth": b64("second:p2")},
                "https://index.docker.io/v1/": {"auth": b64("first:p1")},
                "registry-1.docker.io": {"auth": b64("third:p3")},
            }
        },
    )
    store = CredentialStore(load_docker_config(str(path)))
    assert [c.username for c in store.lookup("docker.io")] == ["first", "second", "third"]


def test_identical_credentials_are_returned_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {"auths": {"docker.io": {"auth": b64("u:p")}, "https://index.docker.io/v1/": {"auth": b64("u:p")}}},
    )
    assert len(CredentialStore(load_docker_config(str(path))).lookup("docker.io")) == 1


# --------------------------------------------------------------------------------------------------
# Docker config: where it is read from


def test_default_location_is_home(isolated_home: Path) -> None:
    write_config(isolated_home / ".docker" / "config.json", {"auths": {"a.io": {"auth": b64("home:p")}}})
    cfg = load_docker_config(None)
    assert cfg.path == str(isolated_home / ".docker" / "config.json")
    assert "a.io" in cfg.auths


def test_missing_default_is_empty(isolated_home: Path) -> None:
    assert load_docker_config(None) == DockerConfig()
    assert CredentialStore(load_docker_config(None)).lookup("docker.io") == []


def test_docker_config_env_wins_over_home(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(isolated_home / ".docker" / "config.json", {"auths": {"a.io": {"auth": b64("home:p")}}})
    write_config(tmp_path / "dc" / "config.json", {"auths": {"a.io": {"auth": b64("env:p")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    [cred] = CredentialStore(load_docker_config(None)).lookup("a.io")
    assert cred.username == "env"


def test_docker_config_env_without_file_is_empty(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker does not fall back to ~/.docker when DOCKER_CONFIG is set.
    write_config(isolated_home / ".docker" / "config.json", {"auths": {"a.io": {"auth": b64("home:p")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    assert load_docker_config(None) == DockerConfig()


def test_explicit_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "dc" / "config.json", {"auths": {"a.io": {"auth": b64("dir:p")}}})
    write_config(tmp_path / "other.json", {"auths": {"a.io": {"auth": b64("file:p")}}})
    write_config(tmp_path / "env" / "config.json", {"auths": {"a.io": {"auth": b64("env:p")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "env"))
    assert CredentialStore(load_docker_config(str(tmp_path / "dc"))).lookup("a.io")[0].username == "dir"
    assert CredentialStore(load_docker_config(str(tmp_path / "other.json"))).lookup("a.io")[0].username == "file"


@pytest.mark.parametrize("name", ["missing.json", "emptydir"])
def test_explicit_missing_is_usage_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(UsageError, match="--registry-config"):
        load_docker_config(str(tmp_path / name))


def test_empty_file_is_empty_config(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.json", "  \n")
    assert load_docker_config(str(path)).auths == {}


@pytest.mark.parametrize(
    "content",
    [
        '{"auths": {"a.io": {"auth": "' + b64("u:" + PASSWORD) + '"}, }',
        '{"auths": {"a.io": {"password": "' + PASSWORD + '"',
        '["' + PASSWORD + '"]',
    ],
)
def test_malformed_json_names_file_not_content(tmp_path: Path, content: str) -> None:
    path = write_config(tmp_path / "c.json", content)
    with pytest.raises(CredentialError) as info:
        load_docker_config(str(path))
    assert str(path) in str(info.value)
    assert info.value.exit_code == EXIT_AUTH
    assert_no_secret(info.value)
    # Not chained to the JSON error either, so a traceback cannot show the document.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"auth": "%%%not-base64" + PASSWORD}, "base64"),
        ({"auth": b64("no-colon-" + PASSWORD)}, "user:password"),
        ({"auth": 12}, "base64"),
        ({"password": 12}, "password"),
        ("just-a-string-" + PASSWORD, "object"),
    ],
)
def test_bad_entries_name_the_key_not_the_content(tmp_path: Path, entry: object, fragment: str) -> None:
    path = write_config(tmp_path / "c.json", {"auths": {"bad.example": entry}})
    with pytest.raises(CredentialError, match=fragment) as info:
        load_docker_config(str(path))
    assert '"bad.example"' in str(info.value) and str(path) in str(info.value)
    assert_no_secret(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    # A folder where the file should be cannot be read even by root (CI runs as root, so a
    # chmod 0 file would prove nothing there).
    (tmp_path / "cfg" / "config.json").mkdir(parents=True)
    with pytest.raises((CredentialError, UsageError), match="config.json"):
        load_docker_config(str(tmp_path / "cfg"))


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{"auths": {"a": {"password": "\xff\xfe' + PASSWORD.encode() + b'"}}}')
    with pytest.raises(CredentialError, match="not readable as UTF-8") as info:
        load_docker_config(str(path))
    assert_no_secret(info.value)


# --------------------------------------------------------------------------------------------------
# Credential helpers: real executables on PATH

HELPER_SCRIPT = """\
#!{python}
# A docker-credential-helpers compatible fake: answers from answers.json, logs every call.
import json, os, sys, time
here = os.path.dirname(os.path.abspath(__file__))
server = sys.stdin.read()
with open(os.path.join(here, "calls.log"), "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": server}}) + "\\n")
answers = json.load(open(os.path.join(here, "answers.json")))
answer = answers.get(server)
if answer is None:
    sys.stdout.write("credentials not found in native keychain\\n")
    sys.exit(1)
if answer == "sleep":
    time.sleep(30)
if answer == "crash":
    sys.stdout.write("exploded while holding {password}\\n")
    sys.exit(3)
if answer == "garbage":
    sys.stdout.write("not json {password}")
    sys.exit(0)
json.dump(dict(answer, ServerURL=server), sys.stdout)
"""


class FakeHelper:
    def __init__(self, bindir: Path, name: str) -> None:
        self.bindir = bindir
        self.path = bindir / f"docker-credential-{name}"
        self.path.write_text(HELPER_SCRIPT.format(python=sys.executable, password=PASSWORD))
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.answers: Dict[str, object] = {}
        self.save()

    def save(self) -> None:
        (self.bindir / "answers.json").write_text(json.dumps(self.answers))

    def answer(self, server: str, value: object) -> None:
        self.answers[server] = value
        self.save()

    def calls(self) -> List[dict]:
        log = self.bindir / "calls.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHelper:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeHelper(bindir, "fake")


def store_with(tmp_path: Path, config: dict, warnings: Optional[List[str]] = None, **kwargs: object) -> CredentialStore:
    path = write_config(tmp_path / "cfg" / "config.json", config)
    sink = warnings if warnings is not None else []
    return CredentialStore(load_docker_config(str(path)), on_warning=sink.append, **kwargs)  # type: ignore[arg-type]


def test_cred_helper_answers(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("registry.example.com", {"Username": "robot", "Secret": PASSWORD})
    store = store_with(tmp_path, {"credHelpers": {"registry.example.com": "fake"}})
    [cred] = store.lookup("registry.example.com")
    assert (cred.username, cred.password, cred.identity_token) == ("robot", PASSWORD, None)
    assert cred.source == "credential helper docker-credential-fake"
    assert helper.calls() == [{"argv": ["get"], "stdin": "registry.example.com"}]
    assert_no_secret(cred, store, *store.describe_sources("registry.example.com"))


def test_helper_gets_docker_hub_server_url(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("https://index.docker.io/v1/", {"Username": "hubuser", "Secret": PASSWORD})
    store = store_with(tmp_path, {"credsStore": "fake"})
    assert [c.username for c in store.lookup("docker.io")] == ["hubuser"]
    assert [c.username for c in store.lookup("index.docker.io")] == ["hubuser"]
    assert helper.calls()[0]["stdin"] == "https://index.docker.io/v1/"


def test_token_username_means_identity_token(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("r.example", {"Username": "<token>", "Secret": TOKEN})
    [cred] = store_with(tmp_path, {"credsStore": "fake"}).lookup("r.example")
    assert (cred.username, cred.password, cred.identity_token) == (None, None, TOKEN)
    assert_no_secret(cred)


def test_not_found_is_no_credential_and_no_warning(tmp_path: Path, helper: FakeHelper) -> None:
    warnings: List[str] = []
    store = store_with(tmp_path, {"credsStore": "fake"}, warnings)
    assert store.lookup("nothing.example") == []
    assert warnings == []
    assert any("no credentials" in s for s in store.describe_sources("nothing.example"))


def test_no_shell_server_url_passed_literally(
    tmp_path: Path, helper: FakeHelper, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = "evil.example;touch pwned1;$(touch pwned2)`touch pwned3`|touch pwned4 \"&& 'x"
    helper.answer(server.lower(), {"Username": "u", "Secret": PASSWORD})
    store = store_with(tmp_path, {"credsStore": "fake"})
    monkeypatch.chdir(tmp_path)
    store.lookup(server)
    [call] = helper.calls()
    assert call == {"argv": ["get"], "stdin": server.lower()}
    for marker in ("pwned1", "pwned2", "pwned3", "pwned4"):
        assert not (tmp_path / marker).exists()
        assert not (helper.bindir / marker).exists()


def test_helper_results_are_memoised(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("a.example", {"Username": "u", "Secret": PASSWORD})
    store = store_with(tmp_path, {"credsStore": "fake"})
    for _ in range(3):
        store.lookup("a.example")
        store.lookup("b.example")  # not found: memoised as well
    store.describe_sources("a.example")
    assert len(helper.calls()) == 2


def test_memoised_once_under_concurrency(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("a.example", {"Username": "u", "Secret": PASSWORD})
    store = store_with(tmp_path, {"credsStore": "fake"})
    threads = [threading.Thread(target=store.lookup, args=("a.example",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(helper.calls()) == 1


def test_priority_helper_then_auths_then_store(tmp_path: Path, helper: FakeHelper) -> None:
    FakeHelper(helper.bindir, "store")  # same answers file, different program name
    helper.answer("r.example", {"Username": "from-helper", "Secret": "p1"})
    store = store_with(
        tmp_path,
        {
            "credHelpers": {"https://r.example/": "fake"},
            "auths": {"r.example": {"auth": b64("from-auths:p2")}},
            "credsStore": "store",
        },
    )
    helper.answer("r.example", {"Username": "from-helper", "Secret": "p1"})
    names = [c.username for c in store.lookup("r.example")]
    # The store helper gives the same answer as the credHelper: returned once.
    assert names == ["from-helper", "from-auths"]
    sources = store.describe_sources("r.example")
    assert sources[0].startswith("credential helper docker-credential-fake")
    assert "auths" in sources[1]
    assert sources[2].startswith("credential helper docker-credential-store")


def test_cred_helper_only_for_its_registry(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("other.example", {"Username": "u", "Secret": "p"})
    store = store_with(tmp_path, {"credHelpers": {"r.example": "fake"}})
    assert store.lookup("other.example") == []
    assert helper.calls() == []


def test_missing_helper_warns_and_goes_on(tmp_path: Path, helper: FakeHelper) -> None:
    warnings: List[str] = []
    store = store_with(
        tmp_path,
        {"credHelpers": {"r.example": "absent"}, "auths": {"r.example": {"auth": b64("u:" + PASSWORD)}}},
        warnings,
    )
    assert [c.username for c in store.lookup("r.example")] == ["u"]
    store.lookup("r.example")
    assert len(warnings) == 1 and "docker-credential-absent" in warnings[0] and "PATH" in warnings[0]
    assert any("not found on PATH" in s for s in store.describe_sources("r.example"))


def test_helper_name_with_path_is_refused(tmp_path: Path, helper: FakeHelper) -> None:
    warnings: List[str] = []
    store = store_with(tmp_path, {"credsStore": "../bin/docker-credential-fake"}, warnings)
    assert store.lookup("r.example") == []
    assert helper.calls() == [] and "not a valid helper name" in warnings[0]


@pytest.mark.parametrize("behaviour, fragment", [("crash", "status 3"), ("garbage", "not JSON")])
def test_failing_helper_warns_without_echoing_output(
    tmp_path: Path, helper: FakeHelper, behaviour: str, fragment: str
) -> None:
    helper.answer("r.example", behaviour)
    warnings: List[str] = []
    store = store_with(tmp_path, {"credsStore": "fake"}, warnings)
    assert store.lookup("r.example") == []
    assert len(warnings) == 1 and fragment in warnings[0]
    assert_no_secret(*warnings, *store.describe_sources("r.example"))


def test_helper_timeout(tmp_path: Path, helper: FakeHelper) -> None:
    helper.answer("slow.example", "sleep")
    warnings: List[str] = []
    store = store_with(tmp_path, {"credsStore": "fake"}, warnings, helper_timeout=0.5)
    assert store.lookup("slow.example") == []
    assert "timed out after 0.5 s" in warnings[0]


def test_non_executable_helper_warns(tmp_path: Path, helper: FakeHelper) -> None:
    helper.path.chmod(0o644)
    warnings: List[str] = []
    store = store_with(tmp_path, {"credsStore": "fake"}, warnings)
    assert store.lookup("r.example") == []
    assert len(warnings) == 1


# --------------------------------------------------------------------------------------------------
# Pull secrets in the store (read by kube/pullsecrets)


def dockerconfigjson(auths: dict) -> Dict[str, str]:
    return {".dockerconfigjson": b64(json.dumps({"auths": auths}))}


def test_pull_secrets_come_first_in_given_order(tmp_path: Path) -> None:
    first = PullSecret(
        "a",
        "one",
        credentials_from_secret("a", "one", DOCKERCONFIGJSON, dockerconfigjson({"r.example": {"auth": b64("one:p1")}})),
    )
    second = PullSecret(
        "b",
        "two",
        credentials_from_secret(
            "b", "two", DOCKERCFG, {".dockercfg": b64(json.dumps({"https://r.example/v1/": {"auth": b64("two:p2")}}))}
        ),
    )
    unrelated = PullSecret(
        "c",
        "three",
        credentials_from_secret(
            "c", "three", DOCKERCONFIGJSON, dockerconfigjson({"other.example": {"auth": b64("three:p3")}})
        ),
    )
    path = write_config(tmp_path / "c.json", {"auths": {"r.example": {"auth": b64("cfg:p4")}}})
    store = CredentialStore(load_docker_config(str(path)), [first, unrelated, second])
    assert [c.username for c in store.lookup("r.example")] == ["one", "two", "cfg"]
    sources = store.describe_sources("r.example")
    assert sources[0] == 'pull secret a/one (auths "r.example")'
    assert sources[1] == "pull secret c/three (no entry for r.example)"
    assert sources[2] == 'pull secret b/two (auths "https://r.example/v1/")'
    assert sources[3].startswith(f"docker config {path}")


def test_pull_secret_wildcard_keys_like_the_kubelet() -> None:
    secret = PullSecret(
        "ns",
        "wild",
        credentials_from_secret(
            "ns", "wild", DOCKERCONFIGJSON, dockerconfigjson({"*.example.com": {"auth": b64("w:p")}})
        ),
    )
    store = CredentialStore(None, [secret])
    assert store.lookup("a.example.com")
    assert store.lookup("example.com") == []
    assert store.lookup("a.b.example.com") == []  # a wildcard part never spans a dot
    assert store.lookup("a.example.com:5000") == []


def test_describe_sources_without_any_config() -> None:
    store = CredentialStore()
    assert store.lookup("docker.io") == []
    assert store.describe_sources("docker.io") == ["docker config (none found) (no auths entry for docker.io)"]


# --------------------------------------------------------------------------------------------------
# Secrets never in str/repr


@settings(max_examples=50, deadline=None)
@given(
    password=st.text(min_size=1).map(lambda s: "P@" + s + "#end"),
    token=st.text(min_size=1).map(lambda s: "T@" + s + "#end"),
)
def test_credential_repr_and_str_never_show_secrets(password: str, token: str) -> None:
    for cred in (
        Credential("user", password, None, "docker config x"),
        Credential(None, None, token, "credential helper y"),
        Credential("user", password, token, "pull secret a/b"),
    ):
        for rendered in (repr(cred), str(cred), repr([cred]), repr({"k": cred})):
            assert password not in rendered and token not in rendered


def test_containers_never_show_secrets(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "c.json",
        {"auths": {"a.io": {"auth": b64("u:" + PASSWORD)}, "b.io": {"identitytoken": TOKEN}}},
    )
    cfg = load_docker_config(str(path))
    secret = PullSecret(
        "ns",
        "s",
        credentials_from_secret(
            "ns", "s", DOCKERCONFIGJSON, dockerconfigjson({"a.io": {"username": "x", "password": PASSWORD}})
        ),
    )
    store = CredentialStore(cfg, [secret])
    assert_no_secret(cfg, secret, store, store.lookup("a.io"), store.lookup("b.io"))
    assert_no_secret(*store.describe_sources("a.io"), *store.describe_sources("b.io"))


def test_credentials_module_does_not_import_kubernetes() -> None:
    code = (
        "import sys, kubectl_imagecache.registry.credentials as c; c.CredentialStore();"
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported';"
        "assert 'kubectl_imagecache.kube' not in sys.modules, 'the registry layer imported the kube layer'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
