# Convenience entry points; CMake does the real work.
#   make run    install build deps, build, run mpconv on its built-in defaults
#   make test   install test deps, build, run unit + integration tests
#               (with CI=true: -Werror, the same tests again on an ASan+UBSan
#               build, make fuzz, make cross-test and make bench-quick)
#   make fuzz   build the libFuzzer harnesses with clang, run each FUZZ_SECONDS
#   make bench  the benchmark table (bench/README.md)
#   make cross ARCH=mipsel|arm64   cross-build, unit + one integration test
#               under qemu-user (README "Router CPUs"); make cross-test: both
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 20
ARCH ?= mipsel
CROSS_ARCHES = mipsel arm64
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DMPCONV_WERROR=ON
endif

.PHONY: all deps test-deps build run test test-asan fuzz cross cross-test bench bench-quick clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/mpconv

test: test-deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure
ifeq ($(CI),true)
	$(MAKE) test-asan
	$(MAKE) fuzz
	$(MAKE) cross-test
	$(MAKE) bench-quick
endif

# Unit and integration tests again, under ASan+UBSan (valgrind cannot run
# a sanitized binary: that pass runs in the normal build).
test-asan: test-deps
	cmake -S . -B $(BUILD)-asan -DMPCONV_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && MPCONV_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -E test_valgrind

# The libFuzzer harnesses (tests/fuzz), all at once, FUZZ_SECONDS each.
fuzz: test-deps
	CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/fuzz.sh $(FUZZ_SECONDS)

# Cross-builds for router CPUs, tested under qemu-user (scripts/cross-build.sh).
cross:
	scripts/cross-build.sh $(ARCH)

cross-test:
	for a in $(CROSS_ARCHES); do scripts/cross-build.sh $$a || exit 1; done

clean:
	rm -rf $(BUILD) $(BUILD)-asan build-fuzz $(CROSS_ARCHES:%=build-%) $(CROSS_ARCHES:%=build-sysroot-%)

# Benchmark against direct MPTCP (and the peers with BENCH_FLAGS=--install-peers).
bench: build
	bench/run.sh $(BENCH_FLAGS)

# CI smoke run: every row gets a number; timing is never asserted.
bench-quick: build
	bench/run.sh --quick
