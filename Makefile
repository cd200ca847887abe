# Konsil: every target bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench bench-triage bench-matching bench-records bench-routing bench-analytics bench-load bench-pages messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/konsil run

test: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python tests/check_browser.py
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench || true

bench: $(DEV_STAMP)
	$(BIN)/python bench/run.py

bench-triage: $(DEV_STAMP)
	$(BIN)/python bench/triage.py

bench-matching: $(DEV_STAMP)
	$(BIN)/python bench/matching.py

bench-records: $(DEV_STAMP)
	$(BIN)/python bench/records.py

bench-analytics: $(DEV_STAMP)
	$(BIN)/python bench/analytics.py
	@if pg_isready -q -h 127.0.0.1 2>/dev/null; then dropdb -h 127.0.0.1 -U postgres --if-exists konsil_bench_analytics; \
	  createdb -h 127.0.0.1 -U postgres konsil_bench_analytics && \
	  DATABASE_URL=postgres://postgres@127.0.0.1:5432/konsil_bench_analytics $(BIN)/python bench/analytics.py; fi

bench-routing: $(DEV_STAMP)
	$(BIN)/python bench/routing.py

bench-load: $(DEV_STAMP)
	$(BIN)/python bench/load.py

bench-pages: $(DEV_STAMP)
	$(BIN)/python bench/pages.py

messages: $(DEV_STAMP)
	cd src/konsil && ../../$(BIN)/django-admin makemessages -l es -l ja --ignore 'static/*' && ../../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var
