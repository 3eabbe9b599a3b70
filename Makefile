# Everything a fresh machine needs: `make demo` and `make test` install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# databricks-connect replaces pyspark in any venv it joins: a venv of its own, which
# tests/e2e/test_dbconnect.py runs the tool in (it rebuilds it when this stamp, the
# requirements' sha256, is out of date).
DBC_VENV := .venv-dbconnect
DBC_STAMP := $(DBC_VENV)/.installed

.PHONY: install demo demo-spark test test-fast lint bench bench-scale java chromium clean

install: $(STAMP) $(DBC_STAMP) java chromium

$(STAMP): requirements.txt requirements-spark.txt requirements-report.txt \
          requirements-tools.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

$(DBC_STAMP): requirements-dbconnect.txt
	$(PYTHON) -m venv --clear $(DBC_VENV)
	$(DBC_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dbconnect.txt
	sha256sum requirements-dbconnect.txt | cut -d' ' -f1 > $(DBC_STAMP)

# Spark (the tests' local Spark Connect server) needs Java 17.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Installing Java 17 (Debian package openjdk-17-jre-headless)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless; }

# The report's tests render it as a person would: headless Chromium.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium (Debian package chromium)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

demo: install
	$(BIN)/python demo.py

demo-spark: install
	$(BIN)/python demo.py --spark

# Everything, on 3 pytest-xdist workers, a test file per worker at a time (--dist
# loadfile: a file's module fixtures are built once, its tests run in order): most of
# the time is Spark runs and servers waiting, which overlap even on 2 cores.
test: install
	$(BIN)/python -m pytest -q -n 3 --dist loadfile

# The unit tests (under a minute): no Spark server, no Chromium, no venv building,
# no tool run as a subprocess. `make test` runs everything.
test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not spark and not browser and not venv and not cli"

# Style (ruff, rules in pyproject.toml) and types (mypy over dbx_inventory).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_spark.py

bench-scale: install
	$(BIN)/python bench/bench.py --scale

# Every environment and output the Makefile, tests and bench create; not results.csv,
# users.csv or checkpoints in this folder: those may be a user's real run.
clean:
	rm -rf $(VENV) .venv-* demo-out bench-results \
	  .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
