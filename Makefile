# make demo: set up .venv and start the example app on SQLite.
# make test: set up .venv (and chromium for the browser tests) and run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APP ?= flask
PORT ?= 5000

.PHONY: demo test lint typecheck bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[flask,asgi,postgres,mysql,redis,dev]'
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	@test -s $(VENV)/demo.key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $(VENV)/demo.key
	TOKENGUARD_SECRET_KEY=$${TOKENGUARD_SECRET_KEY:-$$(cat $(VENV)/demo.key)} $(BIN)/tokenguard demo --app $(APP) --port $(PORT)

test: $(STAMP) browser
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy src
	$(BIN)/pytest -n 2 tests

# make bench: install the peers compared against (and wrk), run benchmarks/, print one table,
# write benchmarks/RESULTS.md and benchmarks/ratios.png.
BENCH_PEERS := djangorestframework-api-key django-rest-knox djangorestframework django \
	Flask-HTTPAuth matplotlib httptools uvloop

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet $(BENCH_PEERS)
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing wrk for the HTTP benchmark"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; }
	cd benchmarks && ../$(BIN)/python run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
