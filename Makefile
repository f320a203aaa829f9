# Everything a developer or CI runs. `make test` is the one command CI runs (through .ci/run):
# it creates the virtualenv, builds the control plane (cached per version) and runs every tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONTROLPLANE_BUILD := hack/controlplane/build.sh

.PHONY: all venv controlplane test test-unit test-registry test-cluster lint bench demo clean

all: test

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# kube-apiserver and etcd from Go modules, into ~/.cache/kubectl-imagecache/controlplane/<versions>;
# a no-op once built.
controlplane:
	$(CONTROLPLANE_BUILD)

lint: venv
	$(VENV)/bin/ruff check kubectl_imagecache tests bench hack

# Every tier: unit, a real registry, a real API server. Nothing is skipped: a missing component fails.
test: venv controlplane lint
	$(PY) -m pytest -q

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-registry: venv
	$(PY) -m pytest -q tests/registry

test-cluster: venv controlplane
	$(PY) -m pytest -q tests/cluster

bench: venv
	$(PY) bench/estimate.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
