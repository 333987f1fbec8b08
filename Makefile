# Two commands on a fresh machine: `make run` and `make test`. Each makes .venv when it is missing
# and reinstalls only when pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
PORT ?= 8080
# pytest-xdist workers for `make test`: many tests wait on servers, subprocesses and polls.
TEST_WORKERS ?= 2

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tunebot needs Python 3.11 or newer")'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/tunebot serve --port $(PORT)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Every benchmark the README's performance table reports, then the table itself from bench/results/*.json.
# The full run takes about 17 minutes on 2 quiet cores (far longer under load); `make bench QUICK=1` runs
# them at CI-sized scale and keeps its results apart, in bench/results/quick/ (gitignored), so they never
# replace the full run's.
BENCHMARKS := prepare check slack_ack notify eval poll score
bench: export TUNEBOT_BENCH_QUICK = $(if $(QUICK),1,0)
bench: $(STAMP)
	@set -e; for name in $(BENCHMARKS); do \
		echo "== bench/$$name.py" >&2; \
		$(VENV)/bin/python bench/$$name.py > /dev/null; \
	done
	$(VENV)/bin/python bench/table.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
