# Two commands do everything on a fresh machine (see README):
#   make demo   - set up, then run a whole demo show against the simulated meeting
#   make test   - set up, then run linters, type checks and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint setup bench vendor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,zoom,teams]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/facilbot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

# Every benchmark prints its figures beside a baseline from the same run; a missed target
# is reported at the end instead of stopping the others.
bench: $(STAMP)
	@missed=""; for script in bench/*.py; do \
		case $$script in bench/enginebench.py) continue;; esac; \
		echo "== $$script"; $(BIN)/python $$script || missed="$$missed $$script"; \
	done; if [ -n "$$missed" ]; then echo "targets missed in:$$missed"; exit 1; fi

# Refresh the vendored Zoom Apps SDK from its npm package (needs Node.js; not needed to run).
vendor:
	scripts/vendor-zoom-sdk.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
