# `make run` and `make test` each create .venv when missing and install the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEFAULT_PIPELINE := medical_imaging_framework/resources/pipelines/segmentation_train.json

.PHONY: install run test lint bench screenshots clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip -c constraints.txt || true
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

# Opens the editor where a display exists; otherwise trains the default pipeline headless.
run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] && $(BIN)/python -c "import medical_imaging_framework.app" 2>/dev/null; then \
		$(BIN)/mif gui; \
	else \
		echo "No display found: training the default pipeline headless (mif run $(DEFAULT_PIPELINE))."; \
		$(BIN)/mif run $(DEFAULT_PIPELINE); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# PYTHONDONTWRITEBYTECODE (set on some machines) is cleared for the tests: the hundreds of `mif` processes they start
# would each compile the project's modules again instead of reading them from __pycache__.
test: lint
	PYTHONDONTWRITEBYTECODE= QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/checkpoint_bench.py --quick
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/ui_latency.py --busy 2
	$(BIN)/python bench/train_overhead.py --quick
	$(BIN)/python bench/peer_loop.py --quick
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/executor_scale.py --quick
	$(BIN)/python bench/data_bench.py --quick
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/startup.py --busy 2
	$(BIN)/python bench/gpu_check.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python scripts/screenshots.py docs/images

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
