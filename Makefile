# rehab: two commands on a fresh machine.
#   make demo   installs into .venv and analyses the sample recording (or VIDEO=... EXERCISE=...)
#   make test   installs into .venv (and the export readers into .venv/readers), type-checks
#               (mypy rehab) and runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXERCISE ?= shoulder_abduction
VIDEO ?=
OUT ?= rehab-out/demo
SHARED_DATA ?= $(abspath ../shared/data)
# An offline mirror of the sample data, when the shared folder is beside the checkout.
ifneq ($(wildcard $(SHARED_DATA)/videos/shoulder_abduction.mp4),)
export REHAB_DATA_DIR ?= $(SHARED_DATA)/videos
endif

.PHONY: demo test bench install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' 2>&1 \
	  | grep -v "is ignored: it is neither a file nor a directory" || true
	$(BIN)/python -c "import rehab, mediapipe, cv2, numba, matplotlib, pooch, pytest"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	@video="$(VIDEO)"; \
	if [ -z "$$video" ]; then video=$$($(BIN)/rehab -q sample shoulder_abduction.mp4) || exit $$?; fi; \
	$(BIN)/rehab analyze "$$video" --exercise $(EXERCISE) --overlay --out $(OUT)

test: $(BIN)/.installed
	@bash scripts/system-deps.sh
	@# the export readers install while mypy runs (both must succeed)
	@bash scripts/readers-venv.sh $(VENV)/readers & readers=$$!; \
	  echo "$(BIN)/python -m mypy rehab"; $(BIN)/python -m mypy rehab --cache-dir $(VENV)/.mypy_cache; \
	  checked=$$?; wait $$readers && exit $$checked
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) rehab-out build *.egg-info
