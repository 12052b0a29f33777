# Makefile — libweightbridge (static and shared), the wbr tool, tests, fuzzers and benchmarks.
# Plain GNU make. Sources are found by directory; generated parser/lexer code goes to
# $(BUILD)/gen and is never committed. A plain `make` only builds; `make deps` installs what is
# missing (Debian, as root) and `make test`, `make asan`, `make demo`, `make fuzz` run it first.
# `make test T=lang` (or T="tests/lang tests/cli/apply.sh") runs only the named suites.

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wswitch-enum
WERROR  ?= -Werror
SAN     ?=
ALL_CFLAGS = $(WARN) $(WERROR) $(CFLAGS) $(SAN) -fPIC -fvisibility=hidden
CPPFLAGS_ALL = -D_GNU_SOURCE -DWBR_BUILDING -Iinclude -I. -I$(BUILD)/gen
# Link flags from pkg-config; the plain list when pkg-config or a .pc file is missing.
PC_LIBS := $(shell pkg-config --libs libpcre2-8 libcjson zlib 2>/dev/null)
LDLIBS  := $(if $(strip $(PC_LIBS)),$(PC_LIBS),-lpcre2-8 -lcjson -lz) -lm
# MAJOR.MINOR.PATCH from include/weightbridge.h, the one place the version is written.
VERSION := $(shell sed -n 's/^\#define WBR_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9][0-9]*\)$$/\2/p' \
             include/weightbridge.h | paste -sd. -)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
FLEX    ?= flex
BISON   ?= bison

# The runtime (base, formats, bytecode, vm, apply) must build without flex/bison so an engine
# can embed it with a .wbc; the compiler and the matcher sit on top. ARCHITECTURE.md's layers:
# base -> {formats, bytecode} -> {vm, compiler} -> {apply, matcher} -> cli.
RT_DIRS   := base formats bytecode vm apply
RT_SRC    := $(foreach d,$(RT_DIRS),$(wildcard $(d)/*.c))
COMP_SRC  := $(wildcard compiler/*.c) $(wildcard matcher/*.c)
GRAM_Y    := $(wildcard grammar/*.y)
GRAM_L    := $(wildcard grammar/*.l)
GEN_C     := $(patsubst grammar/%.y,$(BUILD)/gen/%.c,$(GRAM_Y)) $(patsubst grammar/%.l,$(BUILD)/gen/%.c,$(GRAM_L))
GEN_H     := $(GEN_C:.c=.h)
CLI_SRC   := $(wildcard cli/*.c)
UNIT_SRC  := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
RT_OBJ    := $(call obj,$(RT_SRC))
COMP_OBJ  := $(call obj,$(COMP_SRC)) $(GEN_C:.c=.o)
CLI_OBJ   := $(call obj,$(CLI_SRC))
UNIT_OBJ  := $(call obj,$(UNIT_SRC))

LIB_A     := $(BUILD)/libweightbridge.a
LIB_SO    := $(BUILD)/libweightbridge.so
RT_A      := $(BUILD)/libweightbridge-runtime.a
WBR       := $(BUILD)/wbr
UNIT      := $(BUILD)/unit-tests

.PHONY: all deps test asan check-run demo install uninstall fuzz bench clean

all: $(WBR) $(LIB_A) $(LIB_SO) $(RT_A)

deps:
	@sh tools/deps.sh

# The installed rules library (rules/*.wbr), where `wbr match` looks when neither --library nor
# WBR_RULES_PATH says (cli/library.c).
RULES_DIR ?= $(PREFIX)/share/weightbridge/rules
$(BUILD)/obj/cli/library.o: CPPFLAGS_ALL += -DWBR_RULES_DIR='"$(RULES_DIR)"'

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.c $(BUILD)/gen/%.h: grammar/%.y
	@mkdir -p $(dir $@)
	$(BISON) -Wall -Werror --defines=$(BUILD)/gen/$*.h -o $(BUILD)/gen/$*.c $<

$(BUILD)/gen/%.c $(BUILD)/gen/%.h: grammar/%.l
	@mkdir -p $(dir $@)
	$(FLEX) --header-file=$(BUILD)/gen/$*.h -o $(BUILD)/gen/$*.c $<

# Generated code is not held to our warning set (flex/bison output trips -Wsign-compare etc.).
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	$(CC) $(CPPFLAGS_ALL) -std=c11 $(CFLAGS) $(SAN) -fPIC -fvisibility=hidden -Wno-unused-function -c $< -o $@

# Sources that include generated headers must wait for them.
$(call obj,$(COMP_SRC)): $(GEN_H)

$(LIB_A): $(RT_OBJ) $(COMP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(RT_A): $(RT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(RT_OBJ) $(COMP_OBJ)
	$(CC) -shared $(SAN) -Wl,-soname,libweightbridge.so.$(SOMAJOR) -o $@ $^ $(LDLIBS)

$(WBR): $(CLI_OBJ) $(LIB_A)
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(LIB_A) $(LDLIBS)

$(UNIT): $(UNIT_OBJ) $(LIB_A)
	$(CC) $(SAN) -o $@ $(UNIT_OBJ) $(LIB_A) $(LDLIBS)

# ---- tests ----------------------------------------------------------------------------------

test: deps
	@$(MAKE) --no-print-directory all $(UNIT)
	@sh tests/run.sh $(BUILD) $(T)

check-run: all $(UNIT)
	@sh tests/run.sh $(BUILD) $(T)

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="-O1 -g" SAN="$(ASAN_FLAGS)" all build/asan/unit-tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  WBR_SANITIZED=1 WBR_SAN_FLAGS="$(ASAN_FLAGS)" sh tests/run.sh build/asan $(T)

# ---- demo -----------------------------------------------------------------------------------

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tools/demo.sh $(BUILD)

# ---- install --------------------------------------------------------------------------------
# Man pages (docs/man) and shell completion (tools/completion) go under PREFIX/share.
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(WBR) $(DESTDIR)$(PREFIX)/bin/wbr
	install -m 644 $(LIB_A) $(RT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libweightbridge.so.$(VERSION)
	ln -sf libweightbridge.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libweightbridge.so.$(SOMAJOR)
	ln -sf libweightbridge.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libweightbridge.so
	install -m 644 include/weightbridge.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(RULES_DIR)
	install -m 644 rules/*.wbr $(DESTDIR)$(RULES_DIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  tools/weightbridge.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/weightbridge.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 tools/completion/wbr.bash $(DESTDIR)$(BASHCOMPDIR)/wbr
	install -m 644 tools/completion/_wbr $(DESTDIR)$(ZSHCOMPDIR)/_wbr

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/wbr $(DESTDIR)$(PREFIX)/lib/libweightbridge.a \
	  $(DESTDIR)$(PREFIX)/lib/libweightbridge-runtime.a $(DESTDIR)$(PREFIX)/lib/libweightbridge.so \
	  $(DESTDIR)$(PREFIX)/lib/libweightbridge.so.$(SOMAJOR) \
	  $(DESTDIR)$(PREFIX)/lib/libweightbridge.so.$(VERSION) \
	  $(DESTDIR)$(PREFIX)/include/weightbridge.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/weightbridge.pc
	rm -rf $(DESTDIR)$(RULES_DIR)
	rm -f $(patsubst docs/man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard docs/man/*.1)) \
	  $(DESTDIR)$(BASHCOMPDIR)/wbr $(DESTDIR)$(ZSHCOMPDIR)/_wbr

# ---- fuzzing (libFuzzer, clang) ------------------------------------------------------------------

FUZZ_SRC := $(wildcard fuzz/*.c)
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 20

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzzlib CC=clang CFLAGS="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" build/fuzzlib/libweightbridge.a
	@$(MAKE) --no-print-directory $(FUZZ_BIN) $(WBR)
	@sh tools/fuzz_seeds.sh build/fuzz $(WBR)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n build/fuzz/seeds-$$n; \
	  kept=; [ -d fuzz/corpus/$$n ] && kept=fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 build/fuzz/corpus-$$n $$kept \
	    build/fuzz/seeds-$$n || exit 1; done

build/fuzz/%: fuzz/%.c build/fuzzlib/libweightbridge.a
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS_ALL) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< \
	  build/fuzzlib/libweightbridge.a $(LDLIBS)

# ---- benchmarks -------------------------------------------------------------------------------

bench: all
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- python ---------------------------------------------------------------------------------
# The Python package's extension, built in place (python/weightbridge/_native*.so, gitignored):
# `PYTHONPATH=python python3 -c 'import weightbridge'`. `pip install ./python` builds the same.
PYTHON ?= /usr/bin/python3
.PHONY: python
python: $(LIB_A)
	cd python && WBR_BUILD=$(abspath $(BUILD)) $(PYTHON) setup.py -q build_ext --inplace
