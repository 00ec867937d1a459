# ageshift — build, test, bench, install.
#   make            build ./ageshift (installs missing Debian packages first, when run as root)
#   make demo       build, then age the sample clip both ways into out/
#   make test       build and run the Criterion tests (needs nothing outside the repository)
#   make test-data  the face tests again on ../shared/faces (UTKFace), and the tests only it allows
#   make bench      speed of the core (against PyTorch when python3-torch is installed), the
#                   face detector and the filter
#   make quality    age shift, identity, artefacts, flicker and detection on real footage
#   make SANITIZE=1 ASan + UBSan build (in build-san/)
#   make fuzz       build the libFuzzer targets with clang (in build-fuzz/) and run each for
#                   FUZZ_SECONDS (default 60) over a copy of its corpus in tests/fuzz/corpus/

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
ARCH ?= native

# Debian packages the build needs, and the pkg-config names they provide.
DEB_BUILD = build-essential pkg-config libopenblas-dev libjansson-dev libcriterion-dev \
            libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libxml2-dev opencv-data \
            libsdl2-dev ffmpeg procps xvfb x11-apps imagemagick libdlib-data
DEB_BENCH = python3-torch time
# clang and its runtime (libFuzzer, ASan, UBSan) for `make fuzz` only.
DEB_FUZZ = clang libclang-rt-dev
PKGS = openblas jansson libavformat libavcodec libswscale libavutil libxml-2.0 sdl2

ifeq ($(SANITIZE),1)
BUILD ?= build-san
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT = -O3 -g -march=$(ARCH)
endif

# -fopenmp-simd: `#pragma omp simd` vectorises float reductions; no OpenMP runtime.
# -ffp-contract=fast: a * b + c may be one fused multiply-add (one rounding instead of two);
# GCC's default, except in ISO C mode (-std=c11), which would leave every C kernel without FMA.
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -fopenmp-simd -ffp-contract=fast -Wall -Wextra -Werror -MMD -MP -I. $(OPT) -pthread \
              -DAGESHIFT_DATADIR='"$(PREFIX)/share/ageshift"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs criterion 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LIBS = $(PKG_LIBS) -lm $(LDFLAGS)

# Everything below cli/: the core, media I/O, the filter and capture.
LIB_SRC = $(wildcard core/*/*.c) $(wildcard media/*.c) $(wildcard filter/*.c) $(wildcard capture/*.c)
CLI_SRC = $(wildcard cli/*.c)
TEST_SRC = $(wildcard tests/test_*.c)
DATA_TEST_SRC = $(wildcard tests/data/test_*.c)
# The fuzz target bodies (not their libFuzzer mains) also run in `make test`.
TEST_HELPER_SRC = $(filter-out $(TEST_SRC),$(wildcard tests/*.c)) $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC = $(wildcard bench/*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
DATA_TEST_BIN = $(DATA_TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJ = $(TEST_HELPER_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN = $(BUILD)/bench/bench_core $(BUILD)/bench/bench_filter $(BUILD)/bench/bench_detect \
            $(BUILD)/bench/bench_landmarks $(BUILD)/bench/augment_sheet

STAMP = $(BUILD)/.deps-ok

# Test objects are kept, so a rebuild only compiles what changed.
.SECONDARY:

.PHONY: all deps deps-bench deps-fuzz deps-quality demo test test-data bench quality seed-compare fuzz \
        install uninstall clean
all: ageshift

# Installs the Debian packages that are missing (needs root; otherwise says what to install).
deps: $(STAMP)
$(STAMP):
	@missing=""; for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages:$$missing (run make as root, or apt-get install them)"; exit 1; fi; \
	fi
	@mkdir -p $(BUILD) && touch $@

# python3-torch is only needed to compare against PyTorch in `make bench` and to regenerate
# the golden fixtures; it is large, so only bench asks for it (and for GNU time, for peak memory).
deps-bench:
	@dpkg -s $(DEB_BENCH) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_BENCH) || \
	  echo "could not install $(DEB_BENCH): PyTorch or peak memory will not be measured"; }

deps-fuzz:
	@dpkg -s $(DEB_FUZZ) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_FUZZ); } || \
	  { echo "make fuzz needs: $(DEB_FUZZ)"; exit 1; }

# Copied then renamed, so a running ./ageshift (a long training run) does not block the build;
# copied whenever it differs, so ./ageshift is always the build just asked for (make after
# make SANITIZE=1 brings the optimised one back).
ageshift: $(BUILD)/ageshift FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

.PHONY: FORCE
FORCE:

$(BUILD)/ageshift: $(CLI_OBJ) $(LIB_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LIBS)

$(BUILD)/%.o: %.c | $(STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | $(STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# The option tables' test needs the command line's own option code.
$(BUILD)/tests/test_options: $(BUILD)/cli/options.o $(BUILD)/cli/args.o $(BUILD)/cli/filter_options.o

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(LIB_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

# Each test binary runs from the project root so it finds tests/fixtures; the tests that run
# the command itself take it from AGESHIFT_BIN (the sanitizer build's own copy under SANITIZE=1).
test: $(TEST_BIN) $(BUILD)/ageshift
	@tests/run_suites.sh $(BUILD)/ageshift $(TEST_BIN)
	@if command -v node >/dev/null; then echo "== bench/quality/metrics.test.js (node --test)"; \
	  node --test bench/quality/metrics.test.js >$(BUILD)/quality-tests.log 2>&1 || \
	  { cat $(BUILD)/quality-tests.log; echo "make quality's tests FAILED"; exit 1; }; \
	  grep -E '^# (tests|pass|fail)' $(BUILD)/quality-tests.log; \
	else echo "no Node.js: make quality's tests (bench/quality/metrics.test.js) not run"; fi

# The same face tests on the team's real UTKFace crops instead of the repository's own faces,
# and the tests that only make sense on them (tests/data/); needs ../shared (DATA=...).
DATA ?= ../shared
FACE_TESTS = $(addprefix $(BUILD)/tests/,test_cascade test_dataset test_loader test_image_io test_face_blend \
             test_trainer test_cli test_convert test_live)
test-data: $(FACE_TESTS) $(DATA_TEST_BIN) $(BUILD)/ageshift
	@test -d $(DATA)/faces/young || { echo "test-data needs $(DATA)/faces (set DATA=...)"; exit 1; }
	@AGESHIFT_FACES=$$(realpath $(DATA)/faces) tests/run_suites.sh $(BUILD)/ageshift $(FACE_TESTS) \
	  $(DATA_TEST_BIN)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/bench/bench_faces.o $(LIB_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LIBS)

demo: ageshift
	tools/demo.sh

bench: $(BENCH_BIN) deps-bench
	bench/run.sh $(BUILD)/bench

# libFuzzer targets: everything built again by clang with coverage instrumentation, ASan and
# UBSan in build-fuzz/ (build/ and build-san/ are untouched); one binary per target from
# tests/fuzz/libfuzzer_main.c. -Wno-pass-failed: clang reports `#pragma omp simd` loops that the
# sanitizers keep it from vectorising, which is no fault of the code.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD = build-fuzz
FUZZ_TARGETS = safetensors y4m raw cascade dataset_name camera landmarks
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = $(filter-out $(OPT),$(CFLAGS_BASE)) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
              -Wno-pass-failed $(PKG_CFLAGS)
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/tests/guarded.o \
               $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/%.o: %.c | $(STAMP) deps-fuzz
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/main_%.o: tests/fuzz/libfuzzer_main.c | $(STAMP) deps-fuzz
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $< ($*)"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DFUZZ_TARGET=fuzz_$* -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/main_%.o $(FUZZ_LIB_OBJ)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(ALL_LIBS)

# Sequential, each for FUZZ_SECONDS; crashing inputs are kept in build-fuzz/crashes/<name>/.
fuzz: $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make quality [QUICK=1] [MODEL=...] [OPTS="..."] [INPUTS="a.mp4 photos/"]: ageshift on the
# team's real footage (../shared/wild) and the trainer's test split (../shared/faces), judged by
# an independent age estimator and face descriptor (bench/quality/, Node.js); report, CSVs and
# contact sheets in out/quality/.
QUICK ?= 0
MODEL ?= samples/model.safetensors
OPTS ?=
INPUTS ?=
quality: ageshift $(BUILD)/bench/quality/test_split $(BUILD)/bench/quality/guard_scores deps-quality
	bench/quality/run.sh $(BUILD) $(MODEL) "$(OPTS)" $(QUICK) $(INPUTS)

# make seed-compare [MODEL=...]: the seed's four example faces through MODEL beside the seed's
# own outputs (out/seed_compare.png) and the estimator's ages of both.
seed-compare: ageshift deps-quality
	@mkdir -p out
	bench/quality/seed_compare.sh ./ageshift $(MODEL) out/seed_compare.png

# Node.js and npm run the estimator; the npm packages come from bench/quality's lock file.
deps-quality:
	@command -v node >/dev/null && command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } || \
	  { echo "make quality needs Node.js and npm (Debian: nodejs npm)"; exit 1; }

install: ageshift
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 ageshift $(DESTDIR)$(PREFIX)/bin/ageshift
	install -d $(DESTDIR)$(PREFIX)/share/ageshift
	install -m 644 samples/model.safetensors $(DESTDIR)$(PREFIX)/share/ageshift/model.safetensors

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ageshift
	rm -rf $(DESTDIR)$(PREFIX)/share/ageshift

clean:
	rm -rf build build-san build-fuzz ageshift

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
