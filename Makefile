# Entry points for people and CI. The README's two commands are `make run` and
# `make test`; both install what they need on a fresh Debian machine first.

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JOBS ?= 2
PORT ?= 4566
DATA ?= ./data

# Build and run: C toolchain and libraries. Tests: also the AWS CLI v2
# (Debian's awscli), curl with HTTP/2, the lz4 CLI (LZ4 frames for the replay
# test), node + npm for the JS SDK (node is preinstalled on our machines;
# Debian's nodejs+npm otherwise).
APT_BUILD := build-essential cmake pkg-config libmicrohttpd-dev libnghttp2-dev \
             libsqlite3-dev libcjson-dev libgnutls28-dev libcbor-dev zlib1g-dev libexpat1-dev \
             libzip-dev libsnappy-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-gnutls-dev libisal-dev liblz4-dev
APT_TEST  := awscli curl lz4 python3-boto3
# The fuzz targets: clang 14 and its runtime libraries (libclang-rt-14-dev has
# libFuzzer and the sanitizers' runtimes for clang).
APT_FUZZ  := clang-14 libclang-rt-14-dev
FUZZ_SECONDS ?= 600

.PHONY: deps test-deps fuzz-deps build build-asan build-fuzz run test test-release test-asan test-fuzz fuzz bench clean

deps:
	@dpkg -s $(APT_BUILD) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_BUILD) >/dev/null; }

test-deps: deps
	@dpkg -s $(APT_TEST) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_TEST) >/dev/null; }
	@command -v npm >/dev/null || { DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	@python3 -c 'import boto3' || { echo "python3 has no boto3 (pip install boto3)"; exit 1; }
	@cd tests/integration/js && { test -f node_modules/@aws-sdk/client-kinesis/package.json || \
	  npm ci --no-audit --no-fund --loglevel=error; }

fuzz-deps: deps
	@dpkg -s $(APT_FUZZ) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_FUZZ) >/dev/null; }

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j$(JOBS)

build-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTIDEPOOL_SANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)

# The libFuzzer targets of tests/fuzz, everything built with clang and
# instrumented (ASan, UBSan, coverage).
build-fuzz: fuzz-deps
	CC=clang-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTIDEPOOL_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_all

# Each target fuzzes for $(1) seconds as a ctest test, $(JOBS) at a time.
run-fuzz = cmake -S . -B build-fuzz -DTIDEPOOL_FUZZ_SECONDS=$(1) >/dev/null && \
	  cd build-fuzz && ctest -L fuzz --output-on-failure -j$(JOBS)

run: build
	./build/tidepool serve --port $(PORT) --data $(DATA)

# The whole suite: unit and end-to-end tests on the release build, the same
# suite on the ASan+UBSan build, then every fuzz target for 30 s; all three
# run even when one fails, and one line sums them up (tests/summary.py).
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

test: build build-asan build-fuzz test-deps
	@rm -f build/junit.xml build-asan/junit.xml build-fuzz/junit.xml; rc=0; \
	(cd build && ctest --output-on-failure -j$(JOBS) --output-junit junit.xml) || rc=1; \
	(cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j$(JOBS) --output-junit junit.xml) || rc=1; \
	($(call run-fuzz,30) --output-junit junit.xml) || rc=1; \
	python3 tests/summary.py build/junit.xml build-asan/junit.xml build-fuzz/junit.xml || rc=1; \
	exit $$rc

test-release: build test-deps
	cd build && ctest --output-on-failure -j$(JOBS)

test-asan: build-asan test-deps
	cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j$(JOBS)

test-fuzz: build-fuzz
	$(call run-fuzz,30)

# Longer runs by hand: make fuzz [FUZZ_SECONDS=600]
fuzz: build-fuzz
	$(call run-fuzz,$(FUZZ_SECONDS))

bench: build
	./bench/kinesis.sh

clean:
	rm -rf build build-asan build-fuzz
