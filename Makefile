# ai_conformance.kubernetes: developer and CI entry points.  `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
COLL_LINK := .build/collections/ansible_collections/ai_conformance/kubernetes
SANITY_DIR := .build/sanity/ansible_collections/ai_conformance/kubernetes
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export PATH := $(CURDIR)/$(BIN):$(subst $(CURDIR)/$(BIN):,,$(PATH))

.PHONY: help install dist sanity lint ruff ansible-lint changelog-lint unit integration test \
        cluster-build cluster-up cluster-down cluster-status demo bench clean chromium

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.stamp: requirements/runtime.txt requirements/dev.txt
	@command -v $(PY) >/dev/null || { echo "ERROR: $(PY) not found: install Python 3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../../.. $(COLL_LINK)

$(GET_PIP): tests/sanity/get_pip_standin.py
	mkdir -p $(dir $(GET_PIP))
	cp $< $@

install: $(BIN)/.stamp $(COLL_LINK) ## venv with pinned deps; resolve the collection from this checkout
	@$(BIN)/ansible-doc -t module ai_conformance.kubernetes.cluster_info >/dev/null && echo "ai_conformance.kubernetes resolves from $(CURDIR)"

dist: install ## build the collection tarball into .build/dist
	$(BIN)/ansible-galaxy collection build --force --output-path .build/dist .

# ansible-test looks for its get-pip script in ~/.ansible/test/cache (it cannot be moved); only
# sanity writes it there, from the offline stand-in in tests/sanity.
sanity: install $(GET_PIP) ## ansible-test sanity on a copy of the tracked tree
	rm -rf .build/sanity && mkdir -p $(SANITY_DIR)
	git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} $(SANITY_DIR)/
	cd $(SANITY_DIR) && git init -q . && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --color no --exclude tests/refcluster/ --exclude tests/fixtures/

ruff: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check plugins tests

ansible-lint: install
	$(BIN)/ansible-lint --offline --profile production

changelog-lint: install
	$(BIN)/antsibull-changelog lint

lint: ruff ansible-lint changelog-lint ## ruff, ansible-lint (production profile), changelog fragments

# The browser test of report.html (tests/unit/plugins/module_utils/test_report_browser.py) drives the
# Debian chromium package through Playwright.  Installed when missing and run as root (CI); elsewhere
# the test skips and says why.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "note: chromium is not installed (apt-get install chromium as root): the report's browser test will skip" >&2; fi; }

# cosign built from its Go module (github.com/sigstore/cosign/v3) into ~/.cache/ai-conformance/tools/cosign-<version>,
# for the test that cosign verify-blob accepts the bundle's signature (tests/unit/plugins/module_utils/test_signing_cosign.py).
# 3m53s cold on 2 cores (empty Go module and build caches), instant once built.  A failed build leaves a note and
# the test skips, saying why.
COSIGN_VERSION ?=
.PHONY: cosign
cosign: ## build cosign (for the signature interop test; cached by version)
	@tests/tools/build_cosign.sh $(COSIGN_VERSION) >/dev/null || \
	  echo "note: cosign did not build (tests/tools/build_cosign.sh $(COSIGN_VERSION)): the cosign interop test will skip" >&2

# gotestsum built from its Go module (gotest.tools/gotestsum) into ~/.cache/ai-conformance/tools/, for the
# upstream suite's JUnit conversion and its tests (tests/unit/plugins/module_utils/test_upstream_gotestsum.py).
GOTESTSUM_VERSION ?=
.PHONY: gotestsum
gotestsum: ## build gotestsum (the upstream suite's test2json -> JUnit; cached by version)
	@tests/tools/build_gotestsum.sh $(GOTESTSUM_VERSION) >/dev/null || \
	  echo "note: gotestsum did not build (tests/tools/build_gotestsum.sh $(GOTESTSUM_VERSION)): its tests will skip" >&2

unit: install chromium cosign gotestsum ## unit tests (no cluster)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

cluster-build: install ## build the reference cluster's components (cached in ~/.cache/ai-conformance)
	$(BIN)/python -m tests.refcluster.cluster build

cluster-up: install ## start the local reference cluster (builds what is missing)
	$(BIN)/python -m tests.refcluster.cluster up

cluster-down: ## stop the reference cluster and remove its state
	$(BIN)/python -m tests.refcluster.cluster down

cluster-status: ## health, nodes and memory of the reference cluster
	$(BIN)/python -m tests.refcluster.cluster status

integration: install cluster-build ## integration and fault tests on the reference cluster
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/integration

# `make test` gives the whole suite a time budget (TEST_BUDGET_S from its start; 80 minutes, what CI
# allows a new machine whose build cache is empty).  The integration tests run in tiers (core,
# probes, faults; tests/integration/conftest.py) and a tier whose measured time no longer fits is
# skipped whole, each test with that reason; `make integration` runs every tier regardless.
TEST_BUDGET_S ?= 4800
ifndef AIC_TEST_DEADLINE
AIC_TEST_DEADLINE := $(shell echo $$(( $$(date +%s) + $(TEST_BUDGET_S) )))
endif

test: export AIC_TEST_DEADLINE := $(AIC_TEST_DEADLINE)
test: sanity lint unit integration ## everything CI checks (integration tiers within the time budget)

# make demo VERSION=v1.35 picks another checklist (default: the newest, v1.37).
VERSION ?=
demo: cluster-up ## the main job on the local reference cluster
	ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress $(BIN)/ansible-playbook conformance.yml -i inventories/local \
		$(if $(VERSION),-e conformance_version=$(VERSION))

# docs/samples/reference-cluster: the evidence role rendered from the probe results recorded in one main
# job on the reference cluster (its input/ says where and when); byte-stable, so
# tests/unit/test_sample_bundle.py fails, naming the files, when the role's output changed.
# sample-bundle-record re-records that input from a fresh main job (needs the reference cluster).
SAMPLE_RECORD_DIR := .build/sample-record
.PHONY: sample-bundle sample-bundle-record
sample-bundle: install ## re-render the sample bundle docs/samples/reference-cluster from its recorded input (no cluster)
	$(BIN)/python tests/tools/sample_bundle.py render

sample-bundle-record: cluster-up ## re-record the sample bundle's input from a fresh main job on the reference cluster, then re-render it
	rm -rf $(SAMPLE_RECORD_DIR)
	ANSIBLE_CALLBACKS_ENABLED=ai_conformance.kubernetes.conformance_progress $(BIN)/ansible-playbook conformance.yml -i inventories/local \
		-e conformance_version=v1.37 -e conformance_output_dir=$(CURDIR)/$(SAMPLE_RECORD_DIR)
	$(BIN)/python tests/tools/sample_bundle.py record $(SAMPLE_RECORD_DIR)/v1.37/refcluster
	$(BIN)/python tests/tools/sample_bundle.py render

bench: install cluster-build ## start time, memory, the main job per requirement (phases, waits, API requests, timeline; upstream suite side by side with AIC_UPSTREAM_SUITE_SRC) -> .build/bench/results.json
	$(BIN)/python -m tests.bench.run

# The interrupt matrix (issue 26): the main job killed at 30 points (SIGINT/SIGTERM/SIGKILL of
# ansible-playbook and of a running module), playbooks/cleanup.yml after each, nothing labelled left,
# then one whole run that must pass.  About 90 s a trial on this machine class; the integration
# suite runs 3 of them.  Trials: .build/interrupt-matrix/trials.json.
INTERRUPT_TRIALS ?= 30
interrupt-matrix: install cluster-build ## the main job interrupted at 30 random points; cleanup must leave nothing
	AIC_INTERRUPT_TRIALS=$(INTERRUPT_TRIALS) $(BIN)/python -m pytest -q -p no:cacheprovider tests/integration/test_interrupt_matrix.py

gpu-bundle: install cluster-build ## parts for the real-GPU run (tests/gpu/README.md) -> .build/gpu-bundle
	nice -n 10 $(BIN)/python -m tests.gpu.pack

clean: cluster-down
	rm -rf .build tests/output
