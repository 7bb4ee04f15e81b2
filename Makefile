# Two commands do everything on a fresh machine (see README):
#   make demo   - set up, then run a whole demo show against the simulated meeting
#   make test   - set up, then run linters, type checks and the whole test suite
# Both install exactly what uv.lock pins (with its hashes) into .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev postgres zoom teams

# uv itself, at the version and hashes pinned in requirements-uv.txt, in a small venv of its
# own made with the machine's pip. uv runs the interpreter above and never downloads one.
TOOLS    := .venv-tools
UV       := $(TOOLS)/bin/uv
UV_STAMP := $(TOOLS)/.installed
export UV_PYTHON_DOWNLOADS := never

# `make test-latest`: the same checks against the newest release of every dependency.
LATEST := .venv-latest

.PHONY: demo test test-latest lint lock setup bench vendor clean

$(UV_STAMP): requirements-uv.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r requirements-uv.txt
	touch $(UV_STAMP)

# uv sync --locked refuses a uv.lock that no longer matches pyproject.toml (run `make lock`),
# and makes .venv hold exactly the lock: what it pins is installed, anything else removed.
$(STAMP): uv.lock pyproject.toml | $(UV_STAMP)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --python $(PYTHON) \
		$(addprefix --extra ,$(EXTRAS))
	touch $(STAMP)

setup: $(STAMP)

# Re-resolve uv.lock after changing the dependencies in pyproject.toml; versions already
# locked stay as they are. `make lock UPGRADE=1` moves everything to its newest release.
lock: $(UV_STAMP)
	$(UV) lock --python $(PYTHON) $(if $(UPGRADE),--upgrade)

demo: $(STAMP)
	$(BIN)/facilbot demo

# ruff and mypy with the tools in the venv whose bin/ is $(1)
define LINT
	$(1)/ruff check .
	$(1)/ruff format --check .
	$(1)/mypy
endef

lint: $(STAMP)
	$(call LINT,$(BIN))

test: lint
	$(BIN)/python -m pytest

# Not part of CI. Resolves the newest releases afresh into $(LATEST) (uv.lock is left as it is)
# and lists what differs from the lock, then runs the lint and the tests there, so that drift
# shows here before it breaks a fresh machine.
test-latest: export MYPY_CACHE_DIR := $(LATEST)/.mypy_cache
test-latest: $(UV_STAMP)
	$(UV) lock --python $(PYTHON) --upgrade --dry-run
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LATEST)
	$(UV) pip compile --quiet --python $(LATEST)/bin/python --upgrade --no-header \
		$(addprefix --extra ,$(EXTRAS)) -o $(LATEST)/requirements.txt pyproject.toml
	$(UV) pip sync --quiet --python $(LATEST)/bin/python $(LATEST)/requirements.txt
	$(UV) pip install --quiet --python $(LATEST)/bin/python --no-deps -e .
	$(call LINT,$(LATEST)/bin)
	$(LATEST)/bin/python -m pytest

# Every benchmark prints its figures beside a baseline from the same run; a missed target
# is reported at the end instead of stopping the others.
bench: $(STAMP)
	@missed=""; for script in bench/*.py; do \
		case $$script in bench/enginebench.py) continue;; esac; \
		echo "== $$script"; $(BIN)/python $$script || missed="$$missed $$script"; \
	done; if [ -n "$$missed" ]; then echo "targets missed in:$$missed"; exit 1; fi

# Refresh the vendored Zoom Apps SDK, the API docs' Swagger UI and Redoc, and the tests'
# axe-core from their npm packages (needs Node.js; not needed to run).
vendor:
	scripts/vendor-npm.sh zoom-sdk
	scripts/vendor-api-docs.sh
	scripts/vendor-npm.sh axe-core

clean:
	rm -rf $(VENV) $(TOOLS) $(LATEST) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
