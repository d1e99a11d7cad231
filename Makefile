# camera_registry developer commands (GNU make).
#   make run     system packages, venv, migrate, sample data, serve on 127.0.0.1:5000 with the scheduler
#   make test    pytest on SpatiaLite and on PostGIS at once (TEST_DATABASE=... runs one backend)
#   make lint    ruff: lint and format check (make test runs it first)
#   make bench   the benchmark suite, every figure beside its target (make bench-quick: under 3 minutes)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
TEST_BACKENDS := $(if $(TEST_DATABASE),$(TEST_DATABASE),spatialite postgis)

ASSETS := camera_registry/web/static/vendor/.installed

.PHONY: venv install assets system-deps deps-run deps-test run test lint bench bench-quick

# The owner pages' message catalogs: the .po files are in git, the compiled .mo files are build output.
CATALOGS := $(wildcard camera_registry/translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(CATALOGS:.po=.mo)

venv install: $(STAMP) $(MO_FILES)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel --quiet compile -i $< -o $@

# Re-installs whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Front-end libraries from the npm registry, copied where the app serves them.
assets: $(ASSETS)

$(ASSETS): package.json package-lock.json scripts/vendor-assets.sh
	bash scripts/vendor-assets.sh
	touch $@

system-deps: deps-test

deps-run:
	bash scripts/system-deps.sh run

deps-test:
	bash scripts/system-deps.sh test

run: deps-run $(STAMP) $(ASSETS) $(MO_FILES)
	$(BIN)/camera-registry db upgrade
	$(BIN)/camera-registry sample load --if-empty
	@# The scheduler (outbox delivery, reminders, expiry) runs beside the server and stops with it.
	$(BIN)/camera-registry scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT; \
	$(BIN)/camera-registry run --host 127.0.0.1 --port 5000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Lint first, then every backend, each even when an earlier step failed; the target fails if any did.
# The two backends run at once (16% quicker on two cores: their tests wait on browsers, sockets and the scheduler),
# each into build/test-<backend>.log, printed whole with its exit status as it ends; one backend runs in the open.
# Background jobs start with Ctrl-C ignored, so a Ctrl-C on make stops them through the trap.
test: deps-test $(STAMP) $(ASSETS) $(MO_FILES)
	@mkdir -p build
	@status=0; $(MAKE) --no-print-directory lint || status=1; \
	if [ $(words $(TEST_BACKENDS)) = 1 ]; then \
	    echo "=== pytest on $(TEST_BACKENDS) ==="; \
	    TEST_DATABASE=$(TEST_BACKENDS) $(BIN)/pytest --junitxml=build/test-$(TEST_BACKENDS).xml $(PYTEST_ARGS) \
	        || status=1; \
	    exit $$status; \
	fi; \
	declare -A backend_of; \
	trap 'kill $${!backend_of[@]} 2>/dev/null; exit 130' INT TERM; \
	for backend in $(TEST_BACKENDS); do \
	    echo "=== pytest on $$backend: started, output in build/test-$$backend.log ==="; \
	    TEST_DATABASE=$$backend $(BIN)/pytest --junitxml=build/test-$$backend.xml $(PYTEST_ARGS) \
	        >build/test-$$backend.log 2>&1 & backend_of[$$!]=$$backend; \
	done; \
	while [ $${#backend_of[@]} -gt 0 ]; do \
	    wait -n -p pid; code=$$?; backend=$${backend_of[$$pid]}; unset "backend_of[$$pid]"; \
	    echo "=== pytest on $$backend ==="; cat build/test-$$backend.log; \
	    echo "=== pytest on $$backend: exit status $$code ==="; \
	    [ $$code = 0 ] || status=1; \
	done; exit $$status

# bench: the full run, every figure beside its target (RESULTS.md keeps one); bench-quick: all reduced, < 3 min.
bench bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'  # tipg, served beside our tiles
	$(BIN)/python -m benchmarks $(if $(filter bench-quick,$@),--quick)
