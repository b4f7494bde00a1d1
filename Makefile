# isitup: the commands a developer types. Everything installs what it needs first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build test test-unit run-dev run-local bench install format clean

all: build

deps:
	bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) --parallel $(JOBS)

# Every test, unit and integration (real processes and sockets on 127.0.0.1), in parallel.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --parallel $(JOBS) --timeout 600 $(CTEST_ARGS)

test-unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --parallel $(JOBS) -L unit $(CTEST_ARGS)

# The local stack. For now: the agent on config/local.yml with a local test server.
# Kafka and PostgreSQL join it with their plugins.
run-dev: build
	bash scripts/run-local.sh

run-local: run-dev

bench: build
	@ls $(BUILD_DIR)/bin/isitup-bench-* >/dev/null 2>&1 || { echo "no benchmarks built yet"; exit 0; }; \
	for b in $(BUILD_DIR)/bin/isitup-bench-*; do echo "== $$b"; $$b; done

install: build
	cmake --install $(BUILD_DIR)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD_DIR)

# The agent-level scheduler run (bench/scheduler/README.md): isitup-agent with 1e6 no-op checks
# for 60 s; prints config load time, firing lateness and CPU per fired check. Takes ~5 minutes.
.PHONY: bench-agent
bench-agent: build
	/usr/bin/python3 bench/scheduler/run_agent_bench.py --build-dir $(BUILD_DIR)
