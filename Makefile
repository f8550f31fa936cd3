# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint format debian-tools revision wheel

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/davfiles serve

debian-tools:
	sh scripts/install-debian-tools.sh

test: $(VENV)/.installed-test debian-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# After a model change: writes davfiles/db/migrations/versions/NNNN_<message>.py to review.
revision: $(VENV)/.installed
	$(BIN)/python -m davfiles.db.new_revision "$(MESSAGE)"

# The installable package, as users get it (dist/davfiles-VERSION-py3-none-any.whl).
wheel: $(VENV)/.installed
	$(BIN)/pip wheel --no-deps --wheel-dir dist .
