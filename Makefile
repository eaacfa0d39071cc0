# partage — build, test and run.  `make` builds bin/partaged and bin/partage;
# `make test` runs every test and ends with "N passed, N failed".
# SAN=1 builds everything with ASan+UBSan into build-asan/ (make test-asan).

# zlib only for the unit tests: its crc32 is the reference for libdeflate's
PKGS := libmicrohttpd sqlite3 libpq libcurl libcrypto libsodium jansson \
	libarchive inih libdeflate zlib libavformat libavcodec libavutil libseccomp \
	libqrencode libswscale
CC ?= cc
ifeq ($(SAN),1)
BUILD := build-asan
BIN := build-asan/bin
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
OPT := -O1 -g
else
BUILD := build
BIN := bin
SANFLAGS :=
OPT := -O2 -g
endif

# Build dependencies.  `make`, `make all`, `make run` and `make test` (what
# the README promises to work on a fresh Debian 12) install what is missing
# through `make deps` (scripts/install-deps.sh) and stop, with its reason,
# when that fails; every other target only checks and, when something is
# missing, stops naming it and the command that installs it.
DEPS_OK = pkg-config --exists $(PKGS) && test -e /usr/include/magic.h \
	&& test -e /usr/include/cmocka.h
# (exported: the make that test-asan runs only checks, as test-asan does)
ifneq ($(filter all run test,$(or $(MAKECMDGOALS),all)),)
DEPS_HOW ?= install
else
DEPS_HOW ?= check
endif
export DEPS_HOW
# what is missing: pkg-config modules, headers, then Debian packages
DEPS_MISSING = $$(for p in $(PKGS); do pkg-config --exists $$p || \
	printf '%s ' $$p; done; for h in magic cmocka; do \
	test -e /usr/include/$$h.h || printf '%s.h ' $$h; done)(Debian \
	packages: $$(scripts/install-deps.sh --missing))
DEPS_ADVICE = install them with 'make deps' (scripts/install-deps.sh)
ifeq ($(DEPS_HOW),install)
DEPS_FIX = { echo "partage: installing build dependencies (make deps)" >&2; \
	scripts/install-deps.sh || { echo "partage: cannot install the build \
	dependencies: scripts/install-deps.sh failed (see above)" >&2; exit 1; }; \
	$(DEPS_OK) 2>/dev/null || { echo "partage: still missing after \
	scripts/install-deps.sh: $(DEPS_MISSING)" >&2; exit 1; }; }
else
DEPS_FIX = { echo "partage: missing build dependencies: $(DEPS_MISSING); \
	$(DEPS_ADVICE)" >&2; exit 1; }
endif
# pkg-config is asked once, when first needed: after the dependencies step
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
	-Wformat=2 -Wvla
CFLAGS ?= $(OPT)
CFLAGS += -std=gnu17 $(WARN) $(SANFLAGS) -D_FILE_OFFSET_BITS=64 -pthread \
	$(PKG_CFLAGS)
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
LDLIBS = $(PKG_LIBS) -lmagic -pthread
LDFLAGS += $(SANFLAGS)

LIB_SRC := $(filter-out src/main.c src/cli/%,$(shell find src -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/web_assets.o \
	$(BUILD)/i18n_catalog.o
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
WEB_FILES := $(sort $(wildcard web/*))
# the message catalogs (po/LANG.po): a C table and a script per language
PO_FILES := $(sort $(wildcard po/*.po))
I18N_JS := $(BUILD)/web-gen/i18n-en.js \
	$(PO_FILES:po/%.po=$(BUILD)/web-gen/i18n-%.js)

.PHONY: all run test test-unit test-e2e test-asan fuzz clean deps deps-ready check-layers \
	bench-loop \
	format format-check analyze
all: $(BIN)/partaged $(BIN)/partage

# every compiler run waits for the dependencies step (run once)
deps-ready:
	@$(DEPS_OK) 2>/dev/null || $(DEPS_FIX)

$(BUILD)/%.o: %.c | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tools/embed: scripts/embed.c | deps-ready
	@mkdir -p $(dir $@)
	$(CC) -O1 -o $@ $<

$(BUILD)/web_assets.c: $(BUILD)/tools/embed $(WEB_FILES) $(BUILD)/i18n_catalog.c
	$(BUILD)/tools/embed $@ $(WEB_FILES) $(I18N_JS)

$(BUILD)/i18n_catalog.c: scripts/i18n.py $(PO_FILES)
	@mkdir -p $(dir $@)
	python3 scripts/i18n.py gen $@ $(BUILD)/web-gen $(PO_FILES)

$(BUILD)/i18n_catalog.o: $(BUILD)/i18n_catalog.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/web_assets.o: $(BUILD)/web_assets.c
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

$(BUILD)/libpartage.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/partaged: $(BUILD)/src/main.o $(BUILD)/libpartage.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/partage: $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libpartage.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# -MMD: a test that includes a source file whole (test_cli_login includes
# src/cli/login.c) is rebuilt when that file changes (the .d file adds
# the headers and that file to $^: only the test and the library are
# compiled)
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/tests/libfixture.a \
		$(BUILD)/libpartage.a | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -MMD -MP -o $@ $< $(filter %.a,$^) \
		$(LDLIBS) $(LDFLAGS) -lcmocka

# the unit tests' shared fixture (tests/unit/fixture_repo.h: temp dir,
# SQLite repo, link rows): an archive, so a test that uses none of it
# links none of it
$(BUILD)/tests/fixture_repo.o: tests/unit/fixture_repo.c | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -MMD -MP -c -o $@ $<

$(BUILD)/tests/libfixture.a: $(BUILD)/tests/fixture_repo.o
	@rm -f $@
	ar rcs $@ $^

# C micro-benchmarks (bench/NAME.c), built on demand, never by all:
# make build/bench/h1_parse && build/bench/h1_parse; bench/loop.sh runs
# the event core's (make bench-loop)
bench-loop: $(BUILD)/bench/loop_bench
$(BUILD)/bench/%: bench/%.c $(BUILD)/libpartage.a | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $^ $(LDLIBS) $(LDFLAGS)

# the client's command table: the test includes src/cli/partage.c (its
# main renamed) and links the client's other objects
$(BUILD)/tests/test_cli_partage: tests/unit/test_cli_partage.c \
		src/cli/partage.c src/cli/cli.h \
		$(filter-out %/partage.o,$(CLI_SRC:%.c=$(BUILD)/%.o)) \
		$(BUILD)/libpartage.a | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $(filter-out src/%,$^) $(LDLIBS) \
		$(LDFLAGS) -lcmocka

# the client's progress line: its own object and the library
$(BUILD)/tests/test_cli_progress: tests/unit/test_cli_progress.c \
		$(BUILD)/src/cli/progress.o $(BUILD)/libpartage.a | deps-ready
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $^ $(LDLIBS) $(LDFLAGS) -lcmocka

# make run LISTEN=127.0.0.1:9000 DATA=./data2
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data
run: $(BIN)/partaged $(BIN)/partage
	$(BIN)/partaged serve --listen '$(LISTEN)' --data '$(DATA)'

test-unit: $(UNIT_BIN)
test: all $(UNIT_BIN) | deps-ready
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh

test-asan:
	$(MAKE) SAN=1 all $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BIN))
	@BIN=build-asan/bin BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh

# libFuzzer targets (clang); FUZZ_SECONDS each, seeds in tests/fuzz/corpus/NAME
# (docs/fuzzing.md).  The library is compiled once with clang into
# build-fuzz/obj (coverage and sanitizers, no main) and each target links
# against build-fuzz/libpartage.a; make -j builds them in parallel.  A
# dictionary in tests/fuzz/NAME.dict is passed when there is one.
FUZZ_SECONDS ?= 20
FUZZ_CFLAGS := -g -O1 -std=gnu17 -D_FILE_OFFSET_BITS=64 -pthread \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined \
	$(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o) build-fuzz/obj/web_assets.o \
	build-fuzz/obj/i18n_catalog.o
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build-fuzz/obj/web_assets.o: $(BUILD)/web_assets.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Isrc -c -o $@ $<

build-fuzz/obj/i18n_catalog.o: $(BUILD)/i18n_catalog.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Isrc -c -o $@ $<

build-fuzz/libpartage.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libpartage.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc -MMD -MP -o $@ $< \
	  build-fuzz/libpartage.a $(LDLIBS) -lmagic

# FUZZ_JOBS targets at a time (one per core by default): each is one
# process, and a finding in any stops the run with its log
FUZZ_JOBS ?= $(shell nproc)
fuzz: $(FUZZ_BIN)
	@printf '%s\n' $(FUZZ_BIN) | xargs -P $(FUZZ_JOBS) -I{} sh -c '\
	  b={}; n=$$(basename $$b); mkdir -p build-fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  dict=; test -f tests/fuzz/$$n.dict && dict=-dict=tests/fuzz/$$n.dict; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $$dict \
	    build-fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>build-fuzz/$$n.log \
	    || { tail -40 build-fuzz/$$n.log; exit 255; }' \
	  && echo "fuzz: all targets clean"

deps:
	scripts/install-deps.sh

# .clang-format matches the code as it is; format-check lists the files it
# would change (it reports, it does not fail).
FORMAT_FILES = $(shell find src tests/unit tests/fuzz -name '*.[ch]' | sort)
format:
	clang-format -i $(FORMAT_FILES)

# The include rules of src/ (docs/internals.md, "Layers"); also in analyze.
check-layers:
	@python3 scripts/check-layers.py

format-check:
	@n=0; for f in $(FORMAT_FILES); do \
	  clang-format $$f | cmp -s - $$f || { echo "format: $$f"; n=$$((n + 1)); }; \
	done; echo "format-check: $$n of $(words $(FORMAT_FILES)) files differ from .clang-format"

# Static analysis; fails on any finding.  The layer rules, cppcheck (reviewed false
# positives in scripts/cppcheck/suppressions.txt), then the clang static
# analyzer over a full build of its own in build-analyze/ (build/ is left
# alone; removed first, since scan-build sees only what it compiles).
CPPCHECK := cppcheck -q -j2 --std=c11 --error-exitcode=1 --inline-suppr \
	--enable=warning,style,performance,portability \
	--library=scripts/cppcheck/jansson.cfg \
	--suppressions-list=scripts/cppcheck/suppressions.txt \
	-D_FILE_OFFSET_BITS=64 -Isrc \
	--template='{file}:{line}: {severity}: {message} [{id}]'
analyze:
	@rc=0; echo "analyze: layers"; python3 scripts/check-layers.py || rc=1; \
	echo "analyze: cppcheck"; $(CPPCHECK) src tests/unit tests/fuzz || rc=1; \
	echo "analyze: scan-build"; rm -rf build-analyze; \
	scan-build --status-bugs -o build-analyze/report \
	  $(MAKE) --no-print-directory BUILD=build-analyze BIN=build-analyze/bin all \
	  >build-analyze.log 2>&1 || rc=1; \
	grep -E 'warning:|bugs? found|Error' build-analyze.log; mv build-analyze.log build-analyze/; \
	if [ $$rc = 0 ]; then echo "analyze: cppcheck and scan-build clean"; \
	else echo "analyze: findings above (scan-build: build-analyze/report)"; fi; exit $$rc

clean:
	rm -rf build build-asan build-fuzz build-analyze bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
-include $(shell find build-fuzz -name '*.d' 2>/dev/null)
