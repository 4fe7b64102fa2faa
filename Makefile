# DNS Chaos Lab. `make demo` and `make test` work as the first command on a fresh machine:
# they install the pinned tools (`make tools`) and the Python environment themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB    ?= kind
OUT    ?= reports/latest
# Local lab tuning (chaoslab.local.tuning): empty = stock; `make up LAB=local TUNING=storm`
# sizes IAM near its demand and gives customers SDK deadlines, so retry storms can outlive
# their fault.
TUNING ?=
PYTEST_ARGS ?=
# Two xdist workers: labs one at a time on one, the light tests beside (chaoslab.testkit.suite).
PYTEST_WORKERS ?= 2

# What the local lab and `make demo` run: no Helm (charts), Chromium (the report's browser
# test), dig or tmux (tests), so a first game day does not wait for them.
LAB_TOOLS := k8s coredns etcd prometheus

.PHONY: help tools lab-tools node-tools node-images venv test demo up down status lint protos images clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

TOOLS  ?=
tools: ## build/install the pinned real binaries into .tools/bin (cached; TOOLS="k8s etcd" for some)
	@tools/install.sh $(TOOLS)

lab-tools: ## only the tools the local lab and the demo run (a subset of make tools)
	@$(MAKE) --no-print-directory tools TOOLS="$(LAB_TOOLS)"

node-tools: tools ## also the node lab's: kubelet & co., pause, containerd, buildah (cached)
	@tools/install.sh node

node-images: node-tools ## the node lab's images, without Docker (cached in .tools/images)
	@charts/node-images.sh

# The venv is rebuilt only when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	@echo "==> [venv] installing the lab and its test tools into $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed ## the Python environment (.venv)

test: tools node-tools node-images venv ## the whole test suite
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

demo: lab-tools venv ## the flagship game day on a local lab; report in $(OUT)
	$(BIN)/chaoslab demo --out $(OUT) $(if $(TUNING),--tuning $(TUNING))

up: ## start the lab: on kind (default), LAB=node (a real node here, root) or LAB=local
ifeq ($(LAB),local)
	@$(MAKE) --no-print-directory lab-tools venv
	$(BIN)/chaoslab up --local $(if $(TUNING),--tuning $(TUNING))
else ifeq ($(LAB),node)
	@$(MAKE) --no-print-directory node-tools venv
	$(BIN)/chaoslab node up
else
	charts/kind-up.sh
endif

down: ## stop the lab (LAB=local or LAB=node for those)
ifeq ($(LAB),local)
	$(BIN)/chaoslab down
else ifeq ($(LAB),node)
	$(BIN)/chaoslab node down
else
	charts/kind-down.sh
endif

status: venv ## health of every component of the local lab
	$(BIN)/chaoslab status

lint: venv ## ruff
	$(BIN)/ruff check .

protos: venv ## regenerate the committed gRPC stubs from services/protos
	services/gen_protos.sh

images: ## build the container images (docker)
	charts/build-images.sh

clean: ## remove the venv, tools and lab state
	rm -rf $(VENV) .tools .lab
