# make demo: set up .venv with what the example app needs and start it on SQLite.
# make test: set up .venv with everything (every extra of pyproject.toml, the dev group, and
#            chromium for the browser tests) and run ruff, mypy and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP ?= flask
PORT ?= 5000

# Each install is stamped in .venv and made again when pyproject.toml changes. The test install
# is a superset of every demo's: a demo after `make test` installs nothing, and `make test`
# after a demo installs the rest.
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo-$(APP)
# what each `make demo APP=…` runs on (src/tokenguard/cli_demo.py checks for these modules);
# uvicorn and fastapi with the dev group's bounds. Not byte-compiled at install: the app compiles
# what it imports when it starts.
DEMO_REQUIREMENTS_flask := -e '.[flask]'
DEMO_REQUIREMENTS_starlette := -e '.[asgi]' 'uvicorn>=0.30'
DEMO_REQUIREMENTS_fastapi := -e '.[asgi]' 'uvicorn>=0.30' 'fastapi>=0.110'
# examples/django_project: manage.py migrate, then runserver on PORT
DEMO_REQUIREMENTS_django := -e '.[django]'
DEMO_REQUIREMENTS_walkthrough := -e .

.PHONY: demo test tox lint typecheck bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# every extra that pyproject.toml lists, comma-separated
ALL_EXTRAS := "import tomllib; print(','.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']))"

# `pip install --group` (PEP 735 dependency groups) needs pip 25.1
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e ".[$$($(BIN)/python -c $(ALL_EXTRAS))]" --group dev
	touch $@

$(VENV)/.installed-demo-%: pyproject.toml | $(BIN)/python
	@if [ -z "$(DEMO_REQUIREMENTS_$*)" ]; then \
	  echo "APP=$* is not a demo: APP=flask, starlette, fastapi, django or walkthrough"; exit 2; fi
	@if [ $(TEST_STAMP) -nt pyproject.toml ]; then echo "$(VENV) has everything (make test installed it)"; \
	  else echo "installing $(DEMO_REQUIREMENTS_$*)"; \
	  $(BIN)/python -m pip install --quiet --no-compile $(DEMO_REQUIREMENTS_$*); fi
	@touch $@

browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(DEMO_STAMP)
	@test -s $(VENV)/demo.key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $(VENV)/demo.key
	TOKENGUARD_SECRET_KEY=$${TOKENGUARD_SECRET_KEY:-$$(cat $(VENV)/demo.key)} $(BIN)/tokenguard demo --app $(APP) --port $(PORT)

test: $(TEST_STAMP) browser
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy src
	$(BIN)/pytest -n 2 tests

# make tox: the suite on CPython 3.11, 3.12 and 3.13 (tox.ini). tox looks for python3.1x on PATH;
# pyenv's shims answer only for its active version, so the newest installed patch of each is put
# on PATH first. TOXARGS="-e py313 -- tests/test_tokens.py" picks environments and tests.
TOXARGS ?=
tox: $(TEST_STAMP)
	@root=$$(pyenv root 2>/dev/null); path=; \
	for minor in 3.11 3.12 3.13; do \
	  dir=$$(ls -d "$$root"/versions/$$minor.* 2>/dev/null | grep -E '/[0-9.]+$$' | sort -V | tail -n 1); \
	  if [ -n "$$root" ] && [ -n "$$dir" ]; then path="$$path$$dir/bin:"; fi; \
	done; \
	echo "PATH=$$path\$$PATH $(BIN)/tox $(TOXARGS)"; \
	PATH="$$path$$PATH" $(BIN)/tox $(TOXARGS)

# make bench: install the peers compared against (and wrk), run benchmarks/, print one table,
# write benchmarks/RESULTS.md and benchmarks/ratios.png.
BENCH_PEERS := djangorestframework-api-key django-rest-knox djangorestframework django \
	Flask-HTTPAuth matplotlib httptools uvloop gunicorn

bench: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet $(BENCH_PEERS)
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing wrk for the HTTP benchmark"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; }
	cd benchmarks && ../$(BIN)/python run.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests examples benchmarks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) .tox build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# make messages: the settings page's strings into its catalog template (babel.cfg says where they are);
# make translations: the de, fr and nl catalogs brought up to date with it (then translate what is new);
# make compile-translations: the .mo files the package ships (tests/test_i18n.py checks they match).
I18N := src/tokenguard/web/translations
.PHONY: messages translations compile-translations

messages: $(TEST_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project=tokenguard \
	  --copyright-holder="the tokenguard authors" \
	  --msgid-bugs-address=https://github.com/tokenguard/tokenguard/issues -o $(I18N)/messages.pot .

translations: messages
	$(BIN)/pybabel update -D tokenguard -i $(I18N)/messages.pot -d $(I18N) -w 100 --ignore-pot-creation-date

compile-translations: $(TEST_STAMP)
	$(BIN)/pybabel compile -D tokenguard -d $(I18N) --statistics
