# partage — build, test and run.  `make` builds bin/partaged and bin/partage;
# `make test` runs every test and ends with "N passed, N failed".
# SAN=1 builds everything with ASan+UBSan into build-asan/ (make test-asan).

# zlib only for the unit tests: its crc32 is the reference for libdeflate's
PKGS := libmicrohttpd sqlite3 libpq libcurl libcrypto libsodium jansson \
	libarchive inih libdeflate zlib
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

# Install missing Debian packages once, before pkg-config is asked.
DEPS_OK := $(shell pkg-config --exists $(PKGS) && test -e /usr/include/magic.h \
	&& test -e /usr/include/cmocka.h && echo yes)
ifneq ($(DEPS_OK),yes)
$(info partage: installing build dependencies (scripts/install-deps.sh))
$(shell scripts/install-deps.sh >&2)
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
	-Wformat=2 -Wvla
CFLAGS ?= $(OPT)
CFLAGS += -std=gnu17 $(WARN) $(SANFLAGS) -D_FILE_OFFSET_BITS=64 -pthread \
	$(shell pkg-config --cflags $(PKGS))
ifeq ($(WERROR),1)
CFLAGS += -Werror
endif
LDLIBS := $(shell pkg-config --libs $(PKGS)) -lmagic -pthread
LDFLAGS += $(SANFLAGS)

LIB_SRC := $(filter-out src/main.c src/cli/%,$(shell find src -name '*.c' | sort))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/web_assets.o
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
WEB_FILES := $(sort $(wildcard web/*))

.PHONY: all run test test-unit test-e2e test-asan fuzz clean deps format
all: $(BIN)/partaged $(BIN)/partage

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tools/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -o $@ $<

$(BUILD)/web_assets.c: $(BUILD)/tools/embed $(WEB_FILES)
	$(BUILD)/tools/embed $@ $(WEB_FILES)

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

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpartage.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $^ $(LDLIBS) $(LDFLAGS) -lcmocka

run: $(BIN)/partaged $(BIN)/partage
	$(BIN)/partaged serve --listen 127.0.0.1:8080 --data ./data

test-unit: $(UNIT_BIN)
test: all $(UNIT_BIN)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh

test-asan:
	$(MAKE) SAN=1 all $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BIN))
	@BIN=build-asan/bin BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh

# libFuzzer targets (clang); FUZZ_SECONDS each, seeds in tests/fuzz/corpus/NAME,
# a dictionary in tests/fuzz/NAME.dict if there is one
FUZZ_SECONDS ?= 20
FUZZ_LIB_SRC := $(filter-out src/main.c src/cli/%,$(shell find src -name '*.c' | sort))
fuzz: $(BUILD)/web_assets.c
	@mkdir -p build-fuzz
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -g -O1 -std=gnu17 -fsanitize=fuzzer,address,undefined -D_FILE_OFFSET_BITS=64 \
	    -Isrc $$(pkg-config --cflags $(PKGS)) -o build-fuzz/$$n $$f $(FUZZ_LIB_SRC) $(BUILD)/web_assets.c \
	    $(LDLIBS) -lmagic || exit 1; \
	  mkdir -p build-fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  dict=; test -f tests/fuzz/$$n.dict && dict=-dict=tests/fuzz/$$n.dict; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $$dict \
	    build-fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>build-fuzz/$$n.log \
	    || { tail -40 build-fuzz/$$n.log; exit 1; }; done; echo "fuzz: all targets clean"

deps:
	scripts/install-deps.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
