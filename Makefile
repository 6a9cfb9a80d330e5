# Hisaab developer entry points. Everything installs into .venv/ in this
# checkout; nothing global is touched.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv gen check-gen run test test-unit lint typecheck bench migrate reset clean docs

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[local,dev]'
	@printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/hisaab-checkout.pth"
	@touch $@

venv: $(INSTALLED) ## create .venv with every dependency

gen: $(INSTALLED) ## generate Python, stubs and the Envoy descriptor from protos/ (and the chart's copy)
	@$(PY) -m tools.codegen --if-stale
	@$(PY) -m tools.chartgen

check-gen: $(INSTALLED) ## fail if gen/ (or the chart's Envoy config) disagrees with protos/
	$(PY) -m tools.codegen --check
	$(PY) -m tools.chartgen --check

run: gen ## start the whole stack locally and print where REST listens
	$(PY) -m tools.devstack

test: gen ## the whole test suite (unit, integration, end-to-end, deployment)
	$(PY) -m pytest -q

test-unit: gen ## only tests that need no servers
	$(PY) -m pytest -q -m "not e2e and not integration"

lint: gen ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy libs services tools

bench: gen ## benchmarks; results go to docs/benchmarks.md (BENCH=scan for one section)
	@# The receipt generator draws with DejaVu too (Debian's fonts-dejavu-core) when it can be installed.
	@test -d /usr/share/fonts/truetype/dejavu || apt-get install -y -qq fonts-dejavu-core >/dev/null 2>&1 \
		|| echo "fonts-dejavu-core not installed: generated receipts use reportlab's Vera fonts only"
	$(PY) -m tools.bench $(BENCH)

migrate: gen ## apply database migrations to DATABASE_URL (or the embedded database)
	$(PY) -m libs.db.migrate

docs: gen ## regenerate docs/api.md from the protos
	$(PY) -m tools.apidoc

reset: ## delete local data (database, cache, keys, emulator state)
	rm -rf .data

clean: reset ## delete the venv and generated code too
	rm -rf $(VENV) gen .pytest_cache .mypy_cache .ruff_cache
