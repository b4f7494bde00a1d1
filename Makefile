# isitup: the commands a developer types. Everything installs what it needs first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# ctest's parallelism, apart from the build's: most integration tests wait on sockets, timeouts
# and held faults, not on a CPU, so twice the cores keeps the machine busy. Tests that need a
# CPU of their own say so with the ctest property PROCESSORS (or RESOURCE_LOCK) in CMake.
TEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
CTEST_ARGS ?=

.PHONY: all deps configure build test test-unit test-sanitize fuzz run-dev run-local rebuild-dev peek-data run-prod bench install format format-check tidy tidy-changed clean

all: build

deps:
	bash scripts/install-deps.sh

# CMakePresets.json's dev preset (Ninja), in BUILD_DIR with BUILD_TYPE.
$(BUILD_DIR)/build.ninja: | deps
	cmake --preset dev -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) --parallel $(JOBS)

# Every test, unit and integration (real processes and sockets on 127.0.0.1), in parallel.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --parallel $(TEST_JOBS) --timeout 600 $(CTEST_ARGS)

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --parallel $(TEST_JOBS) -L unit $(CTEST_ARGS)

# The unit tests and the fuzz corpus replay again, built with ASan + UBSan in $(SANITIZE_DIR)
# (scripts/test-sanitize.sh); any report fails. SANITIZE=thread runs the pipeline, scheduler
# and agent tests under TSan instead.
SANITIZE ?= address,undefined
test-sanitize: deps
	SANITIZE=$(SANITIZE) JOBS=$(JOBS) bash scripts/test-sanitize.sh

# Each libFuzzer target for FUZZ_SECONDS (60) with clang in build-fuzz/ (fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

# The local development stack, all state in run/ (scripts/run-dev.sh): isitup-kafka-dev,
# a throwaway PostgreSQL in run/pg, a test web server, a probe agent (config/dev.yml) showing
# its results live and a writer agent (config/writer.yml) filling PostgreSQL. Ctrl-C stops it.
# RUN_DEV_PROBES=N: N probes in catalog mode share config/dev.yml's checks (README "Fleet").
run-dev: build
	BUILD_DIR=$(BUILD_DIR) bash scripts/run-dev.sh

# Only the agent on config/local.yml with a local test web server (no Kafka, no PostgreSQL).
run-local: build
	bash scripts/run-local.sh

# Rebuilds, then restarts only the two agents of the stack `make run-dev` runs.
rebuild-dev: build
	BUILD_DIR=$(BUILD_DIR) bash scripts/run-dev.sh restart-agents

# The per-check report (isitup-report) from the run-dev database.
peek-data: build
	BUILD_DIR=$(BUILD_DIR) bash scripts/run-dev.sh report

# A probe agent on config.prod.yml (repo root, not committed) against external Kafka.
run-prod: build
	@test -f config.prod.yml || { \
	  echo "run-prod: config.prod.yml is missing. Create it from the template:"; \
	  echo "  cp config/prod.example.yml config.prod.yml   # then edit checks, agent id, Kafka TLS/SASL"; \
	  echo "  export KAFKA_BROKERS=host:port[,host:port]    # and the secrets it names, e.g. KAFKA_SASL_PASSWORD"; \
	  exit 1; }
	$(BUILD_DIR)/bin/isitup-agent --config config.prod.yml --plugins-dir $(BUILD_DIR)/plugins

bench: build
	@ls $(BUILD_DIR)/bin/isitup-bench-* >/dev/null 2>&1 || { echo "no benchmarks built yet"; exit 0; }; \
	for b in $(BUILD_DIR)/bin/isitup-bench-*; do echo "== $$b"; $$b; done

install: build
	cmake --install $(BUILD_DIR)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

# clang-tidy (.clang-tidy: bugprone, performance, concurrency, the analyzer) over every C and C++
# source of the build's compile_commands.json: the core, the plugins and their tests, the SDK
# (through the sources that include it: it has none of its own), tools, tests, bench, fuzz and
# fixtures (about 250 files, an hour or more on two cores). It needs a configured build, not a
# built one; it fails when clang-tidy reports anything (run-clang-tidy alone exits 0 on
# findings). TIDY_FILES narrows it (a regex of paths, e.g. TIDY_FILES=plugins/dns_check/).
TIDY_FILES ?= ^$(CURDIR)/(core|sdk|plugins|tools|tests|bench|fuzz|fixtures)/.*\.(c|cpp)$$
tidy: configure
	run-clang-tidy -p $(BUILD_DIR) -j $(JOBS) -quiet '$(TIDY_FILES)' 2>&1 | tee $(BUILD_DIR)/tidy.log
	@if grep -qE '(warning|error): ' $(BUILD_DIR)/tidy.log; then \
	  echo "tidy: clang-tidy reported findings (above; all of it in $(BUILD_DIR)/tidy.log)" >&2; exit 1; fi

# clang-tidy only on the C and C++ files changed against TIDY_BASE (main), committed or not (a
# changed header through one source that includes it): what a contributor runs before landing.
# Needs a configured build (compile_commands.json), not a built one; fails on any finding.
TIDY_BASE ?= main
tidy-changed: configure
	BUILD_DIR=$(BUILD_DIR) TIDY_BASE=$(TIDY_BASE) JOBS=$(JOBS) bash scripts/tidy-changed.sh

# Fails naming every file `make format` would change (also a ctest: format_check).
format-check:
	bash scripts/check-format.sh

clean:
	rm -rf $(BUILD_DIR)

# The agent-level scheduler run (bench/scheduler/README.md): isitup-agent with 1e6 no-op checks
# for 60 s; prints config load time, firing lateness and CPU per fired check. Takes ~5 minutes.
.PHONY: bench-agent
bench-agent: build
	/usr/bin/python3 bench/scheduler/run_agent_bench.py --build-dir $(BUILD_DIR)
