# The two commands a new user needs: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-train

.PHONY: venv install demo test lint format type arm-check clean

venv: $(VENV)/bin/python
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Full install (train + plot + dev extras), redone only when pyproject.toml changes.
$(STAMP): pyproject.toml | venv
	$(PIP) install --quiet -e ".[train,plot,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/reelrank demo

test: install
	$(PY) -m pytest -q -n 2 --dist loadfile

lint:
	$(VENV)/bin/ruff check .

format:
	$(VENV)/bin/ruff format .

type:
	$(VENV)/bin/mypy device_runtime

# Same order/steps/list_reward on emulated aarch64 (qemu-user-static, tflite-runtime 2.14, numpy<2) as
# on x86_64; correctness only, not latency. Needs root once (apt-get). ARTIFACT=dir checks your own.
ARTIFACT ?= artifacts/arm_tiny
arm-check: install $(ARTIFACT)/manifest.json
	bash benchmarks/arm/setup.sh
	$(PY) benchmarks/arm/run_check.py $(ARTIFACT)

# A tiny random-weight artifact with 128 sample pages, only for arm-check (its weights mean nothing).
artifacts/arm_tiny/manifest.json: | install
	$(PY) -c "import sys; sys.path.insert(0,'.'); import keras; from training.ranker.model import build_ranker, preset, save_ranker; keras.utils.set_random_seed(0); save_ranker(build_ranker(preset('tiny')), 'runs/arm_tiny')"
	$(VENV)/bin/reelrank export --ranker runs/arm_tiny --out artifacts/arm_tiny

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .arm
