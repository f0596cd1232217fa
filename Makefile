# rightsize — two commands set everything up on a fresh Debian machine (root, Python only):
#   make run    provision this machine and run site.yml with the smoke profile
#   make test   the whole suite (real Docker, Compose, Locust, SSH lab hosts)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: venv provision run test test-unit lint report teardown lab-up lab-down bench-deps bench clean

venv: $(VENV)/.installed

# requirements.txt pins the tools; `pip install -e .` adds the controller packages (rightsize/,
# collect/) that the filter plugins, the report and the tests import.
$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv python3-pip; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q -e .
	touch $@

provision: venv
	$(BIN)/ansible-playbook playbooks/provision.yml

run: venv
	$(BIN)/ansible-playbook site.yml -e profile=smoke
	@echo "Report: $$(ls -td results/*/ | head -1)consolidated_report.md"

report: venv
	$(BIN)/python collect/report.py $(RUN)

teardown: venv
	$(BIN)/ansible-playbook teardown.yml

lint: venv
	$(BIN)/ansible-lint --profile production

test-unit: venv
	$(BIN)/python -m pytest -q tests/unit tests/collect tests/api -m "not integration and not lab"

test: venv provision
	$(BIN)/python -m pytest -q -ra --durations=25 tests; status=$$?; tests/lab/down.sh >/dev/null 2>&1 || true; exit $$status

# bench/api.py measures the API's ceiling with wrk (Debian's package), pinned to a core with taskset.
bench-deps:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux; }
	@echo "wrk: $$(command -v wrk)"

# make bench BENCH_ARGS="--duration 10 --rounds 2"
bench: venv bench-deps
	$(BIN)/python -m bench.api $(BENCH_ARGS)

lab-up:
	tests/lab/up.sh

lab-down:
	tests/lab/down.sh

clean:
	rm -rf $(VENV) .cache
