# nibble's two README commands:
#   make demo   install dependencies, build, quantize the bundled model and generate
#   make test   build and run every test (what .ci/run calls)
# Other targets: build, test-asan, bench, deps, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
MODEL      ?= testdata/kjv-llama-4m
NIBBLE     := $(BUILD)/nibble

APT_PACKAGES := build-essential cmake ninja-build pkg-config git \
  libsentencepiece-dev sentencepiece libpcre2-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev \
  libopenblas-dev liblapacke-dev libgtest-dev libgmock-dev libbenchmark-dev

.PHONY: all deps build test test-asan demo bench clean

all: build

# Installs the Debian packages (when missing) and the npm peers the tests use.
deps: .deps-apt tests/js/node_modules/.package-lock.json

.deps-apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ $$(id -u) -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@touch $@

# npm install, not npm ci: npm ci rejects a lock file made on Linux because it
# lacks node-llama-cpp's other-platform optional packages; install keeps the
# locked versions all the same.
tests/js/node_modules/.package-lock.json: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm install --no-audit --no-fund --loglevel=error

$(BUILD)/build.ninja: .deps-apt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Tests run two at a time and many start `nibble` with all cores: passive
# OpenMP waiting keeps oversubscribed threads from spinning against each other.
test: deps build
	cd $(BUILD) && OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS)

$(ASAN_BUILD)/build.ninja: .deps-apt
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIBBLE_SANITIZE=ON

test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && OMP_WAIT_POLICY=passive ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

demo: deps build
	@scripts/demo.sh $(NIBBLE) $(MODEL)

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) .deps-apt
