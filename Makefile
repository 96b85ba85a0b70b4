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
PROFILE ?= fast

.PHONY: install test run mock prepare lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# The main job on the embedded default: the mock survey, then the cleaned catalogues.
run: $(STAMP) mock prepare

mock: $(STAMP)
	$(BIN)/galaxy-utils mock --n $$($(BIN)/python -c "from galaxy_utils.mock import DEFAULT_MOCK_SIZE as n; print(n)") \
	    --seed $$($(BIN)/python -c "from galaxy_utils.mock import DEFAULT_MOCK_SEED as s; print(s)") --out $(MOCK_DIR)

prepare: $(STAMP)
	$(BIN)/galaxy-utils prepare --catalog $(MOCK_DIR)/gz_decals_volunteers_5.csv --image-root $(MOCK_DIR)/images \
	    --task four-class --out data/prepared/four-class.csv --removed data/prepared/four-class-removed.csv
	$(BIN)/galaxy-utils prepare --catalog $(MOCK_DIR)/gz_decals_volunteers_5.csv --image-root $(MOCK_DIR)/images \
	    --task three-class --out data/prepared/three-class.csv --removed data/prepared/three-class-removed.csv

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf data/prepared artifacts .pytest_cache
