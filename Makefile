# Hisaab developer entry points. Everything installs into .venv/ in this
# checkout; nothing global is touched.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The AWS side: CDK in .venv (extra `infra`), the policy checkers in their own
# venv because checkov pins libraries below what the services use.
INFRA_VENV := .venv-infra
INFRA_INSTALLED := $(VENV)/.installed-infra

.DEFAULT_GOAL := help
.PHONY: help venv gen check-gen run test test-unit lint typecheck bench migrate reset clean docs infra cost infra-venv

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[local,dev]'
	@printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hisaab-checkout.pth"
	@touch $@

venv: $(INSTALLED) ## create .venv with every dependency

$(INFRA_INSTALLED): $(INSTALLED) pyproject.toml infra/lint-requirements.txt infra/lint-constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check -e '.[local,dev,infra]'
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/lint-requirements.txt -c infra/lint-constraints.txt
	@touch $@

infra-venv: $(INFRA_INSTALLED) ## install the CDK (extra `infra`) and the policy checkers (.venv-infra)

gen: $(INSTALLED) ## generate Python, stubs and the Envoy descriptor from protos/ (and the chart's copy)
	@$(PY) -m tools.codegen --if-stale
	@$(PY) -m tools.chartgen

check-gen: $(INSTALLED) ## fail if gen/ (or the chart's Envoy config, or docs/openapi.json) disagrees with protos/
	$(PY) -m tools.codegen --check
	$(PY) -m tools.chartgen --check
	$(PY) -m tools.openapi --check

run: gen ## start the whole stack locally and print where REST listens
	$(PY) -m tools.devstack

test: gen $(INFRA_INSTALLED) ## the whole test suite (unit, integration, end-to-end, deployment, infrastructure), then the date- and time-sensitive tests at moved clocks
	tmp=$$(mktemp -d -t hisaab-test.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m tools.timetravel -- -q --basetemp="$$tmp/clock" && \
	$(PY) -m pytest -q --basetemp="$$tmp/suite"

test-unit: gen $(INFRA_INSTALLED) ## only tests that need no servers
	$(PY) -m pytest -q -m "not e2e and not integration"

lint: gen $(INFRA_INSTALLED) ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy libs services tools tests conftest.py infra

infra: gen $(INFRA_INSTALLED) ## synthesize the AWS stacks to infra/cdk.out (HISAAB_INFRA_ENV, HISAAB_INFRA_PHASE) and list them
	$(PY) -m infra.app

cost: gen $(INFRA_INSTALLED) ## print the monthly AWS bill per phase at 10k/100k/1M monthly active users
	$(PY) -m tools.infra cost

bench: gen ## benchmarks; results go to docs/benchmarks.md (BENCH=scan for one section)
	@# The receipt generator draws with DejaVu too (Debian's fonts-dejavu-core) when it can be installed.
	@test -d /usr/share/fonts/truetype/dejavu || apt-get install -y -qq fonts-dejavu-core >/dev/null 2>&1 \
		|| echo "fonts-dejavu-core not installed: generated receipts use reportlab's Vera fonts only"
	$(PY) -m tools.bench $(BENCH)

migrate: gen ## apply database migrations to DATABASE_URL (or the embedded database)
	$(PY) -m libs.db.migrate

docs: gen ## regenerate docs/api.md and docs/openapi.json from the protos
	$(PY) -m tools.apidoc
	$(PY) -m tools.openapi
	@$(PY) -m tools.chartgen

reset: ## delete local data (database, cache, keys, emulator state)
	rm -rf .data

clean: reset ## delete the venv and generated code too
	rm -rf $(VENV) $(INFRA_VENV) gen .pytest_cache .mypy_cache .ruff_cache infra/cdk.out
