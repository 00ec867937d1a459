# ageshift — build, test, bench, install.
#   make            build ./ageshift (installs missing Debian packages first, when run as root)
#   make demo       build, then age the sample clip both ways into out/
#   make test       build and run the Criterion tests
#   make bench      speed of the core (against PyTorch when python3-torch is installed), the
#                   face detector and the filter
#   make SANITIZE=1 ASan + UBSan build (in build-san/)

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
ARCH ?= native

# Debian packages the build needs, and the pkg-config names they provide.
DEB_BUILD = build-essential pkg-config libopenblas-dev libjansson-dev libcriterion-dev \
            libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libxml2-dev opencv-data \
            libsdl2-dev ffmpeg procps xvfb x11-apps imagemagick
DEB_BENCH = python3-torch time
PKGS = openblas jansson libavformat libavcodec libswscale libavutil libxml-2.0 sdl2

ifeq ($(SANITIZE),1)
BUILD ?= build-san
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT = -O3 -g -march=$(ARCH)
endif

# -fopenmp-simd: `#pragma omp simd` vectorises float reductions; no OpenMP runtime.
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -fopenmp-simd -Wall -Wextra -Werror -MMD -MP -I. $(OPT) -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs criterion 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)
ALL_LIBS = $(PKG_LIBS) -lm $(LDFLAGS)

# Everything below cli/: the core, the filter and capture.
LIB_SRC = $(wildcard core/*.c) $(wildcard filter/*.c) $(wildcard capture/*.c)
CLI_SRC = $(wildcard cli/*.c)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_HELPER_SRC = $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
BENCH_SRC = $(wildcard bench/*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJ = $(TEST_HELPER_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN = $(BUILD)/bench/bench_core $(BUILD)/bench/bench_filter $(BUILD)/bench/bench_detect

STAMP = $(BUILD)/.deps-ok

# Test objects are kept, so a rebuild only compiles what changed.
.SECONDARY:

.PHONY: all deps deps-bench demo test bench install uninstall clean
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

# Copied then renamed, so a running ./ageshift (a long training run) does not block the build.
ageshift: $(BUILD)/ageshift
	@cp $< $@.tmp && mv -f $@.tmp $@

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

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(LIB_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LIBS) $(TEST_LIBS)

# Each test binary runs from the project root so it finds tests/fixtures; the tests that run
# the command itself take it from AGESHIFT_BIN (the sanitizer build's own copy under SANITIZE=1).
test: $(TEST_BIN) $(BUILD)/ageshift
	@fail=0; for t in $(TEST_BIN); do echo "== $$t"; \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp AGESHIFT_BIN=$(BUILD)/ageshift \
	  $$t --jobs 2 || fail=1; done; \
	if [ $$fail = 0 ]; then echo "all test suites passed"; else echo "some test suites FAILED"; exit 1; fi

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LIBS)

demo: ageshift
	tools/demo.sh

bench: $(BENCH_BIN) deps-bench
	bench/run.sh $(BUILD)/bench

install: ageshift
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 ageshift $(DESTDIR)$(PREFIX)/bin/ageshift

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/ageshift

clean:
	rm -rf build build-san ageshift

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
