# Everything a fresh machine needs: `make demo` and `make test` install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo demo-spark test bench bench-scale java clean

install: $(STAMP) java

$(STAMP): requirements.txt requirements-spark.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

# Spark (the tests' local Spark Connect server) needs Java 17.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Installing Java 17 (Debian package openjdk-17-jre-headless)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jre-headless; }

demo: install
	$(BIN)/python demo.py

demo-spark: install
	$(BIN)/python demo.py --spark

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_spark.py

bench-scale: install
	$(BIN)/python bench/bench.py --scale

clean:
	rm -rf $(VENV) .venv-sdk demo-out bench-results .pytest_cache
