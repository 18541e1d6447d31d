# Two commands for a new machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The console's browser libraries (package.json, pinned by package-lock.json): npm ci, no build.
NODE_INSTALLED := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Debian packages the service and the suite use, installed when missing if run as root
# (otherwise a note names them): the Chinese TrueType font embedded in PDFs (without it PDFs
# use a built-in font that is not embedded), the browser that drives the kiosk page, and
# pdftoppm, which renders the poster back to pixels. PostgreSQL: tests/with-postgres.sh.
RUN_PACKAGES := fonts-droid-fallback
TEST_PACKAGES := fonts-droid-fallback chromium poppler-utils

.PHONY: run test lint format fuzz test-sqlite test-postgres openapi migrate demo clean \
	run-packages test-packages

define install_debian_packages
	@command -v dpkg-query >/dev/null || exit 0; \
	missing=$$(for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	[ -n "$$missing" ] || exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	  || echo "!! apt-get install failed:" $$missing; \
	else echo "note: Debian packages missing (install them as root):" $$missing; fi
endef

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "SciPass needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
	    && rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	  else echo "cannot create a virtualenv: install python3-venv"; exit 1; fi; }
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

$(NODE_INSTALLED): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages: nodejs npm"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else echo "the console needs nodejs and npm (install them as root)"; exit 1; fi; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run-packages:
	$(call install_debian_packages,$(RUN_PACKAGES))

test-packages:
	$(call install_debian_packages,$(TEST_PACKAGES))

run: $(INSTALLED) $(NODE_INSTALLED) run-packages
	$(BIN)/scipass migrate
	$(BIN)/scipass demo
	$(BIN)/scipass serve --host $(HOST) --port $(PORT)

# Both suites at once (each in its own process, its own database, its own temporary files);
# each one's output is shown when it ends. Coverage is measured over both runs combined, so
# the PostgreSQL-only code counts, and gated at 85 %. `make test-sqlite` or `make test-postgres`
# runs one suite (and reports its own coverage, ungated).
test: $(INSTALLED) $(NODE_INSTALLED) test-packages lint
	@rm -f .coverage .coverage.sqlite .coverage.postgres
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres
	@$(BIN)/coverage combine --quiet .coverage.sqlite .coverage.postgres
	$(BIN)/coverage report --fail-under=85

lint: $(INSTALLED)
	$(BIN)/ruff check backend tests alembic bench
	$(BIN)/ruff format --check backend tests alembic bench
	$(BIN)/mypy
	$(BIN)/scipass openapi --check
	$(BIN)/hadolint Dockerfile

test-sqlite: $(INSTALLED)
	@echo "== pytest on SQLite =="
	COVERAGE_FILE=.coverage.sqlite $(BIN)/pytest -q -p no:cacheprovider --cov --cov-report=term

test-postgres: $(INSTALLED)
	@echo "== pytest on PostgreSQL =="
	COVERAGE_FILE=.coverage.postgres tests/with-postgres.sh \
	  $(BIN)/pytest -q -p no:cacheprovider --cov --cov-report=term

# The contract fuzzer (tests/test_contract_fuzz.py) with every role, its coverage phase and many
# more examples than `make test` gives it, on SQLite and then on PostgreSQL.
FUZZ := SCIPASS_FUZZ_EXAMPLES=25 SCIPASS_FUZZ_COVERAGE=1 \
	SCIPASS_FUZZ_ROLES=anonymous,student,guardian,school_staff,school_admin,venue_staff,venue_admin,bureau,platform_admin
fuzz: $(INSTALLED)
	$(FUZZ) $(BIN)/pytest -q -p no:cacheprovider tests/test_contract_fuzz.py
	$(FUZZ) tests/with-postgres.sh $(BIN)/pytest -q -p no:cacheprovider tests/test_contract_fuzz.py

format: $(INSTALLED)
	$(BIN)/ruff check --fix backend tests alembic bench
	$(BIN)/ruff format backend tests alembic bench

openapi: $(INSTALLED)
	$(BIN)/scipass openapi

migrate: $(INSTALLED)
	$(BIN)/scipass migrate

demo: $(INSTALLED)
	$(BIN)/scipass demo

clean:
	rm -rf $(VENV) var .pytest_cache .coverage node_modules
