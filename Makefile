# Two commands on a fresh machine with Python 3.11+, git and make:
#   make serve   - set up .venv and serve the API on SQLite (GraphiQL at http://127.0.0.1:8000/graphql)
#   make test    - set up .venv and run the whole test suite (SQLite, plus PostgreSQL when reachable)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve demo test test-clients lint typecheck check schema bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/entitle serve $(if $(DEMO),--demo,) $(ARGS)

demo: $(STAMP)
	$(BIN)/entitle serve --demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q $(ARGS)
	$(MAKE) test-clients

# The Python client (clients/python) against a real `entitle serve`, installed editable into .venv.
CLIENT_STAMP := $(VENV)/.client-installed
$(CLIENT_STAMP): $(STAMP) clients/python/pyproject.toml
	$(BIN)/pip install --quiet -e clients/python
	touch $(CLIENT_STAMP)

# The JavaScript suite (clients/js: client, React bindings, React example) runs inside it when node and npm are
# installed (npm ci of clients/js/package-lock.json when needed); without them it is skipped, and said here.
test-clients: $(CLIENT_STAMP)
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  echo "node/npm not installed: the JavaScript client tests (clients/js) will be skipped"
	$(BIN)/python -m pytest -q -rs -p no:randomly clients/python/tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

schema: $(STAMP)
	$(BIN)/entitle export-schema > schema.graphql

bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache entitle.db entitle.db-wal entitle.db-shm
