# Everything a developer or CI runs. `make test` is the one command CI runs (through .ci/run):
# it creates the virtualenv, builds the control plane (cached per version) and runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A Python 3.9 virtualenv for mypy (python_version = 3.9 needs the libraries 3.9 installs, and a mypy
# that still targets 3.9).
VENV39 ?= .venv-py3.9
CONTROLPLANE_BUILD := hack/controlplane/build.sh
KREW_BUILD := hack/krew/build.sh
CRANE_BUILD := hack/crane/build.sh
# Where plugin.yaml says the release archive is downloaded from (/vX.Y.Z/ARCHIVE is appended).
RELEASE_BASE_URL ?= https://github.com/kubectl-imagecache/kubectl-imagecache/releases/download

.PHONY: all deps venv venv39 pythons controlplane krew crane image-base dist test test-unit test-registry test-cluster test-release lint bench \
	bench-estimate bench-cluster demo clean
# Debian packages the tests and the demo run: the real registry (distribution 2.8), htpasswd for its
# Basic-auth mode, openssl for the API server's certificates, podman and mmdebstrap to build the
# sync image (deploy/sync/) from Debian packages; skopeo only for the benchmark.
DEB_PACKAGES := docker-registry apache2-utils openssl podman mmdebstrap
IMAGE_BASE := hack/image/base.sh

all: test

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

$(VENV39)/.installed: $(VENV)/.installed setup.cfg pyproject.toml
	python39=$$($(PY) hack/dist/pythons.py 3.9) && "$$python39" -m venv $(VENV39)
	$(VENV39)/bin/python -m pip install --quiet --upgrade pip
	$(VENV39)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

venv39: $(VENV39)/.installed

# Every Python the release is tested under (setup.cfg's classifiers, 3.9 to 3.13): pyenv's builds on
# these machines; a missing one is installed with pyenv, or named with what to install.
pythons: venv
	$(PY) hack/dist/pythons.py

# Installs only what is missing (needs root then); a no-op on a machine that has everything.
deps:
	@missing=$$(for p in $(DEB_PACKAGES) $(EXTRA_DEB); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# kube-apiserver and etcd from Go modules, into ~/.cache/kubectl-imagecache/controlplane/<versions>;
# a no-op once built.
controlplane:
	$(CONTROLPLANE_BUILD)

# validate-krew-manifest and kubectl-krew from the sigs.k8s.io/krew module, into
# ~/.cache/kubectl-imagecache/krew/<version>; a no-op once built.
krew:
	$(KREW_BUILD)

# crane (go-containerregistry's CLI) from its Go module, into ~/.cache/kubectl-imagecache/crane/<version>,
# for the benchmark's peer comparison; a no-op once built.
crane:
	$(CRANE_BUILD)

# A Debian bookworm root filesystem with python3 (mmdebstrap), the sync image's base, into
# ~/.cache/kubectl-imagecache/image-base/; a no-op once built.
image-base: deps
	$(IMAGE_BASE)

# dist/kubectl-imagecache-vX.Y.Z.tar.gz (zipapp, completion helper, LICENSE), reproducible; writes its
# sha256 and uri into plugin.yaml.
dist: venv
	$(PY) hack/dist/release.py --base-url '$(RELEASE_BASE_URL)'

# ruff (McCabe <= 15 too), the import contract of setup.cfg's [importlinter] (layers), and mypy under
# Python 3.9's libraries (the oldest the code promises).
lint: venv venv39
	$(VENV)/bin/ruff check kubectl_imagecache tests bench hack
	$(VENV)/bin/lint-imports
	$(VENV39)/bin/mypy

# Every tier: unit, a real registry, a real API server. Nothing is skipped: a missing component fails.
test: deps venv pythons controlplane krew image-base dist lint
	$(PY) -m pytest -q

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-registry: deps venv
	$(PY) -m pytest -q tests/registry

test-cluster: deps venv controlplane
	$(PY) -m pytest -q tests/cluster

# The release through the real tools: krew's validator, krew install, kubectl, completion; the
# zipapp and `pip install .` under every Python from 3.9 to 3.13.
test-release: venv pythons krew image-base dist
	$(PY) -m pytest -q tests/release

bench: bench-estimate bench-cluster

# The plugin beside crane (xargs -P8) and a skopeo loop, on one registry, at 0 and 50 ms round trips.
bench-estimate: venv crane
	$(MAKE) deps EXTRA_DEB=skopeo
	$(PY) bench/estimate.py

bench-cluster: deps venv controlplane
	$(PY) bench/cluster.py

# A registry, a control plane, the emulated cloud controller, and the plugin's main job through the
# real kubectl. KEEP=1 stays up (prints the kubeconfig) until Ctrl-C.
demo: deps venv controlplane
	$(PY) hack/demo.py $(if $(KEEP),--keep)

clean:
	rm -rf $(VENV) $(VENV39) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
