# galaxy-cnn: `make run` does the main job, `make test` runs every test.
# Both create the virtual environment on first use (and again when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Silence TensorFlow's C++ start-up logging (it would land in notebook stderr).
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

MOCK_DIR ?= data/mock

.PHONY: install test test-fast run mock notebooks figures slides faithful lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Unit tests, then every notebook under nbval (cells marked NBVAL_CHECK_OUTPUT must match).
test: $(STAMP)
	GALAXY_CNN_PROFILE=$${GALAXY_CNN_PROFILE:-fast} $(BIN)/python -m pytest

# The unit tests alone: no notebooks, nothing marked slow (no model training).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow"

# The main job on the embedded default: the mock survey, the notebooks (laptop profile, as
# committed: config.DEFAULT_PROFILE), the report figures and the slides.
run: mock notebooks figures slides

mock: $(STAMP)
	$(BIN)/python -c "from galaxy_utils import config; config.ensure_data(config.settings('mock'), progress=True)"

# TensorFlow 2.21 logs a few C++ lines at import whatever TF_CPP_MIN_LOG_LEVEL says; the kernel
# leaves C-level output on this terminal rather than in the notebooks (Python's stays there).
notebooks: $(STAMP) mock
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=7200 \
		'--ExecutePreprocessor.extra_arguments=["--IPKernelApp.capture_fd_output=False"]' notebooks/*.ipynb

figures: $(STAMP)
	$(BIN)/galaxy-utils figures

slides: $(STAMP)
	$(BIN)/galaxy-utils slides --figures figures --out slides

# Optional: the faithful runs of results/ (hours on two CPU cores; run it again after an
# interruption and it resumes), then the figures and slides that show them.
faithful: $(STAMP)
	$(BIN)/galaxy-utils faithful
	$(BIN)/galaxy-utils figures --render-surveys
	$(MAKE) slides

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf artifacts .pytest_cache
