# effecthost — every target installs what it needs into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# the demo needs only the agents extra (pydantic): not the test tooling
DEMO_STAMP := $(VENV)/.demo-installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: demo test lint typecheck bench install clean browser-deps restate-server

# restate-server from the npm registry, into the checkout (never globally); tests start it.
RESTATE_SERVER_VERSION := 1.7.12
RESTATE_DIR := .engines/restate
restate-server:
	@test -x $(RESTATE_DIR)/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server \
	  && grep -q '"version": "$(RESTATE_SERVER_VERSION)"' $(RESTATE_DIR)/node_modules/@restatedev/restate-server/package.json \
	  || npm install --prefix $(RESTATE_DIR) --no-audit --no-fund --ignore-scripts \
	       @restatedev/restate-server@$(RESTATE_SERVER_VERSION)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgres,server,agents,openai,anthropic,otel,pydantic-ai,restate,temporal,temporal-servers]'
	$(MAKE) restate-server
	touch $(STAMP)

install: $(STAMP)

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[agents]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m effecthost.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy src tests/typing examples

typecheck: lint

# The browser test drives Debian's chromium through Playwright (never `playwright install`).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

test: $(STAMP) browser-deps restate-server
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy src tests/typing examples
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .engines
