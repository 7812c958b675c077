# latdyn build. `make` builds the library and the CLI; `make test` runs the
# unit tests; `make check` runs them, again under AddressSanitizer + UBSan, and
# builds everything with clang too; `make setup` installs the Debian 12
# packages needed to build and test (as root), `make setup-dev` adds PyTorch
# for the fixtures and the benchmarks.

CC ?= cc
BUILD ?= build
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
OPENBLAS_INC ?= /usr/include/x86_64-linux-gnu/openblas-openmp
PYTHON ?= /usr/bin/python3
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

OPT ?= -O3
# -fno-trapping-math (clang's default): nothing here reads floating-point
# exception flags, and without it gcc will not vectorise a loop holding a
# float comparison (the softmax's exponential, clamps). -fno-math-errno:
# nothing reads errno after a math function, and with it sqrtf is one
# instruction that vectorises (Adam's update).
CFLAGS_BASE = -std=c11 -g -Wall -Wextra -Werror -fno-trapping-math -fno-math-errno -D_DEFAULT_SOURCE -fopenmp -MMD -MP \
              -Isrc -I$(OPENBLAS_INC) $(shell pkg-config --cflags hdf5 cairo libpng libtiff-4 gdal 2>/dev/null)
CFLAGS ?= $(OPT)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) $(EXTRA_CFLAGS) -DLD_FIXTURE_DIR=\"$(CURDIR)/tests/fixtures\"
LDFLAGS_ALL = -fopenmp $(EXTRA_CFLAGS) -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR)
LDLIBS = -ldnnl -lopenblas $(shell pkg-config --libs hdf5 cairo libpng libtiff-4 gdal 2>/dev/null) -lgif -lm

LIB_SRC = $(wildcard src/engine/*.c src/ops/*.c src/cpu/*.c src/nn/*.c src/models/*.c \
                     src/baselines/*.c src/data/*.c src/plot/*.c)
CLI_SRC = $(wildcard src/cli/*.c)
TEST_SRC = $(wildcard tests/*.c)
BENCH_SRC = $(wildcard bench/*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)

LIB = $(BUILD)/liblatdyn.a
BIN = $(BUILD)/latdyn
TEST_BIN = $(BUILD)/run_tests
BENCH_BINS = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

DEB_PACKAGES = build-essential clang libomp-14-dev libclang-rt-14-dev pkg-config \
  libdnnl-dev libopenblas-openmp-dev libpng-dev libtiff-dev libhdf5-dev libcairo2-dev \
  libgif-dev libgdal-dev
DEB_PACKAGES_DEV = python3-torch python3-numpy

.PHONY: all test check check-san check-clang demo bench fixtures setup setup-dev clean
all: $(BIN)

# Objects depend on this file too: a change of flags rebuilds everything.
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

# The Winograd convolutions (3x3, 5x5) are AVX-512 code; cpu/conv.c calls
# them only on CPUs that have AVX-512.
$(BUILD)/src/cpu/conv_winograd.o: ALL_CFLAGS += -mavx512f -mfma

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS_ALL) $(CLI_OBJ) $(LIB) $(LDLIBS) -o $@

# The suite list is generated from the LD_TEST_SUITE(name) lines of tests/*.c.
$(BUILD)/tests/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	sed -n 's/^LD_TEST_SUITE(\([a-z0-9_]*\)).*/X(\1)/p' $(TEST_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/test_cli.o $(BUILD)/tests/test_ladid.o $(BUILD)/tests/test_georef.o: ALL_CFLAGS += -DLD_BIN=\"$(CURDIR)/$(BIN)\"
$(BUILD)/tests/main.o: $(BUILD)/tests/suites.h
$(BUILD)/tests/main.o: ALL_CFLAGS += -I$(BUILD)/tests

# The option parser of the CLI is tested directly too.
$(TEST_BIN): $(TEST_OBJ) $(BUILD)/src/cli/options.o $(LIB)
	$(CC) $(LDFLAGS_ALL) $(TEST_OBJ) $(BUILD)/src/cli/options.o $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -o $@

# Passive OpenMP waiting: a test run shares the machine (the sanitizer run,
# a build) and spinning threads would only slow everyone down.
test: $(TEST_BIN) $(BIN)
	OMP_WAIT_POLICY=passive $(TEST_BIN)

# One after the other even under make -j: each part already uses every core.
check:
	$(MAKE) check-clang
	$(MAKE) check-san
	$(MAKE) test

# Everything compiled by clang with the same warnings-as-errors.
check-clang:
	$(MAKE) CC=clang BUILD=build-clang build-clang/latdyn build-clang/run_tests

# Sanitizer build in its own folder; oneDNN's JIT code is not instrumented.
check-san:
	$(MAKE) BUILD=build-san OPT=-O1 EXTRA_CFLAGS="$(SAN_FLAGS)" build-san/run_tests build-san/latdyn
	OMP_WAIT_POLICY=passive ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1 build-san/run_tests

demo: $(BIN)
	$(BIN) demo

bench: $(BENCH_BINS)

fixtures:
	cd tests/fixtures && for f in gen_*.py; do $(PYTHON) $$f || exit 1; done

setup:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES)

setup-dev: setup
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES_DEV)

clean:
	rm -rf build build-san build-clang

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
