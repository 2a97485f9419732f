# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD      ?= build
TEST_BUILD ?= build-test
DATA       ?= ./var
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test bench bench-inquiry fuzz format clean

all: build

deps:
	@tools/install-deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# first start: creates $(DATA) with a new key and the demo data, then serves on 127.0.0.1:8080
run: build
	@tools/first-run.sh $(BUILD)/pharmdesk $(DATA)
	@exec $(BUILD)/pharmdesk serve --data $(DATA) $(if $(CONFIG),--config $(CONFIG))

test:
	@tools/install-deps.sh test
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPD_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ctest --output-on-failure -j 2

bench: build
	@tools/install-deps.sh bench
	@bench/run.sh $(BUILD)

# the inquiry endpoint against a bare libmicrohttpd echo server, wrk -c256 for 60 s each
bench-inquiry: build
	@tools/install-deps.sh bench
	@bench/inquiry_bench.sh $(BUILD)

fuzz:
	@tools/install-deps.sh test
	@tools/fuzz.sh build-fuzz $(or $(SECONDS),300)

format:
	@clang-format -i common/*.[ch] catalog/*.[ch] server/*.[ch] tests/unit/*.[ch] tests/tools/*.c fuzz/*.c bench/*.c

clean:
	rm -rf $(BUILD) $(TEST_BUILD) build-fuzz build-fuzz.log
