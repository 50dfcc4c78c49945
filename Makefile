# Two commands: `make demo` and `make test`. Both create .venv and install pinned deps first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= var/demo

.PHONY: demo test lint typecheck unit bench bench-full bench-plot reliability schemathesis clean install system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet --upgrade pip==24.3.1
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	# an editable install compiles nothing: bytecode as a wheel's install writes it (a machine with
	# PYTHONDONTWRITEBYTECODE=1 would otherwise compile the package in every process)
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium; CJK fonts make Chinese text render (not boxes); the
# reply-by-mail tests start their own Debian dovecot IMAP server (not the system service).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || [ ! -x /usr/sbin/dovecot ]; then \
	  echo "installing chromium, fonts-noto-cjk and dovecot-imapd (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk dovecot-imapd; \
	fi

demo: $(STAMP)
	$(BIN)/python -m plan_tracker.demo --dir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check src tests flows bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Test files spread over TEST_WORKERS processes (pytest-xdist); one file stays on one worker so its
# module fixtures (a year of nights, a Prefect server) are built once. Many tests wait on servers
# (Prefect, dovecot, chromium) rather than the CPU, so 4 workers pay off on 2 cores (6 were tried on
# 2026-12-03: 15.9 min against 13.6, the CPU shared by more processes).
TEST_WORKERS ?= 4

test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# 1k-100k obligations on both backends, the founding plan's night and the API load (minutes). Results
# merge into var/bench/results.json with those of bench-full (1M, both backends: heavy).
bench: $(STAMP)
	$(BIN)/python -m bench --sizes 1000,10000,100000 $(BENCH_ARGS)

bench-full: $(STAMP)
	$(BIN)/python -m bench --sizes 1000000 --no-founding --no-province --no-api --no-delivery $(BENCH_ARGS)

# Time versus obligations (log-log) from var/bench/results.json -> docs/bench-growth.svg,
# and the growth exponents of evaluate and report (10k to 1M).
bench-plot: $(STAMP)
	$(BIN)/python -m bench.plot $(BENCH_PLOT_ARGS)

# The long form of tests/reliability (every kill point, more examples); figures to var/reliability.
reliability: $(STAMP)
	PLAN_TRACKER_LONG_TESTS=1 PLAN_TRACKER_FIGURES_DIR=var/reliability $(BIN)/pytest tests/reliability -q -s $(PYTEST_ARGS)

# The long form of the schemathesis runs against a real `serve` (every check, both roles,
# 500 examples per operation); figures to var/reliability (RELIABILITY.md, Security).
schemathesis: $(STAMP)
	PLAN_TRACKER_LONG_TESTS=1 PLAN_TRACKER_FIGURES_DIR=var/reliability $(BIN)/pytest tests/reliability/portal/test_schemathesis_all_checks.py -q -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
