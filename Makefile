# left4me: one non-recursive GNU Makefile. Each folder contributes a small *.mk
# that appends to the variables below; this file holds only the rules.
.DELETE_ON_ERROR:
.SUFFIXES:

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
SYSCONFDIR ?= /etc
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-unused-parameter -Wno-missing-field-initializers
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# Libraries by pkg-config name; every binary links only what it lists.
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

ALL_CFLAGS = -std=gnu17 $(WARNINGS) $(WERROR) -D_GNU_SOURCE -fno-strict-aliasing \
             -DLEFT4ME_VERSION='"$(VERSION)"' -DLEFT4ME_GIT_REV='"$(GIT_REV)"' \
             -DLEFT4ME_SYSCONFDIR='"$(SYSCONFDIR)"' -DH2O_USE_LIBUV=0 \
             -I. $(call pc_cflags,libsystemd msgpack yaml-0.1) $(CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

# Filled in by the *.mk files.
BINS        :=   # programs installed for users, built into $(BUILD)/
FIXTURES    :=   # test stand-ins (fake game, fake steamcmd), built into $(BUILD)/
UNIT_TESTS  :=   # Criterion binaries, run by test-unit
BLACKBOX    :=   # scripts run by test-blackbox (daemons under systemd-socket-activate)
E2E         :=   # scripts run by test-e2e (the real-systemd container tier)
BENCHES     :=   # programs/scripts run by `make bench`
INSTALL_TARGETS :=
LIBLEFT4ME_SRCS :=

# The *.mk files below define rules of their own; without this the first of them (a
# benchmark) would be what a plain `make` builds.
.DEFAULT_GOAL := all

# Defined before the includes: rule prerequisites there are expanded immediately.
LIBLEFT4ME := $(BUILD)/libleft4me.a

include $(sort $(wildcard */*.mk) $(wildcard tests/*/*.mk))
LIBLEFT4ME_OBJS := $(LIBLEFT4ME_SRCS:%.c=$(BUILD)/obj/%.o)

.PHONY: all
all: $(BINS) $(FIXTURES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBLEFT4ME): $(LIBLEFT4ME_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- set-up -----------------------------------------------------------------
.PHONY: deps
deps:
	@deploy/deps.sh

# ---- tests ------------------------------------------------------------------
.PHONY: test test-unit test-blackbox test-e2e check
test: deps
	$(MAKE) all
	$(MAKE) lint
	$(MAKE) test-unit
	$(MAKE) test-blackbox
	$(MAKE) test-browser
	$(MAKE) test-fuzz-smoke
	$(MAKE) test-e2e
	$(MAKE) test-package

check: all test-unit test-blackbox

test-unit: $(UNIT_TESTS)
	@tests/run-tests.sh unit $(UNIT_TESTS)

test-blackbox: all
	@BUILD=$(abspath $(BUILD)) tests/run-tests.sh blackbox $(BLACKBOX)

# One container boots for the whole tier; tests/e2e/run.sh runs each scenario in it.
test-e2e: all
	@BUILD=$(abspath $(BUILD)) tests/e2e/run.sh $(E2E)

# AddressSanitizer + UBSan build of everything, then the unit and black-box tiers.
.PHONY: asan
asan:
	$(MAKE) BUILD=build-asan EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" all test-unit test-blackbox

# ---- lint -------------------------------------------------------------------
.PHONY: lint
lint:
	@tests/lint.sh

# ---- install ----------------------------------------------------------------
.PHONY: install
install: all $(INSTALL_TARGETS)

# ---- demo -------------------------------------------------------------------
.PHONY: run
run: deps
	$(MAKE) all
	@BUILD=$(abspath $(BUILD)) tests/e2e/demo.sh

.PHONY: bench
bench: all $(BENCHES)
	@BUILD=$(abspath $(BUILD)) tests/run-tests.sh bench $(BENCHES)

.PHONY: clean
clean:
	rm -rf build build-asan build-fuzz
