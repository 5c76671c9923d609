# Two commands on a fresh machine:   make demo   (the embedded default, end to end)   make test   (the test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
# the local CPU wheel of torch, where the machine has one (else pip takes it from the index)
WHEELS := $(wildcard /opt/wheels)
FIND_LINKS := $(if $(WHEELS),--find-links $(WHEELS),)

.PHONY: venv demo test test-fast lint dag clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(FIND_LINKS) torch==2.13.0
	$(BIN)/pip install -q $(FIND_LINKS) -e '.[demo,dev,slurm,capability]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores $(CORES) --profile profiles/default

test: venv
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -ra

test-fast: venv
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -ra -m "not slow"

lint: venv
	$(BIN)/snakemake --lint

dag: venv
	$(BIN)/snakemake --dag | dot -Tpng > dag.png

clean:
	rm -rf results logs .snakemake
