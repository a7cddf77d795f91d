# Every target sets itself up on a fresh machine with python3 and make only.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo bench mutants system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# Graphviz's dot and a headless Chromium for the picture and report tests;
# needs root (CI runs as root). Without them those tests skip with a reason.
system-deps:
	@if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz chromium >/dev/null; \
	  else echo "note: install graphviz and chromium (apt-get install graphviz chromium) for every test to run"; fi; \
	fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/descend demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# One deliberate bug at a time, then the tests that guard it (docs/testing.md).
mutants: $(STAMP) system-deps
	$(BIN)/python tools/mutants.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
