# lwm2m-gateway - one hand-written Makefile.
#   make                  build build/lwm2m-gateway (and the test server)
#   make check            all tests; last line "N passed, N failed"
#   make demo             demo: simulated sensors + local test LwM2M server
#   make bench            benchmarks, lines "BENCH <metric> <value> <unit>"
#   make fuzz             each libFuzzer target for FUZZ_SECONDS
#   make install DESTDIR= PREFIX=   (and make uninstall)
#   make deb              Debian package in $(BUILD)/deb/, checked by lintian
#   SANITIZE=address,undefined  build with sanitizers (into build-san/)
#   WERROR=1              warnings are errors (always for make check, and
#                         when CI is set)
#   CPPFLAGS= CFLAGS= LDFLAGS=  the user's (e.g. dpkg-buildflags), added to
#                         the project's own flags, never replacing them
# Targets that need Debian packages install the missing ones first
# (tools/install-deps.sh), unless NO_DEPS=1.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CPPFLAGS ?=
CFLAGS ?= -O2 -g
LDFLAGS ?=
FUZZ_SECONDS ?= 20
PKG_CONFIG ?= pkg-config

PKGS := libcoap-3-gnutls gnutls libconfig libcjson libcbor expat libsystemd libmodbus
# mbedtls (AES, CMAC of the LoRaWAN adapter): Debian 13's 3.x ships
# mbedcrypto.pc, Debian 12's 2.28 ships no pkg-config file at all.
MBED_CFLAGS := $(shell $(PKG_CONFIG) --cflags mbedcrypto 2>/dev/null)
MBED_LIBS := $(or $(shell $(PKG_CONFIG) --libs mbedcrypto 2>/dev/null),-lmbedcrypto)
# paho-mqtt-c's asynchronous TLS client (the MQTT mirror): Debian 12 and 13
# ship no pkg-config file for it, so it is linked by name when there is none.
PAHO_LIBS := $(or $(shell $(PKG_CONFIG) --libs paho-mqtt3as 2>/dev/null),-lpaho-mqtt3as)

# Cross-building with Debian's multiarch packages, e.g. for a Raspberry Pi:
#   make CROSS=aarch64-linux-gnu            (into build-aarch64-linux-gnu/)
#   make CROSS=aarch64-linux-gnu cross-check   unit tests under qemu-user
# needs gcc-aarch64-linux-gnu, qemu-user and the -dev packages :arm64
# (tools/install-deps.sh --cross aarch64-linux-gnu installs them).
ifneq ($(CROSS),)
CC = $(CROSS)-gcc
PKG_CONFIG = $(CROSS)-pkg-config
BUILD ?= build-$(CROSS)
endif

ifeq ($(SANITIZE),)
BUILD ?= build
SAN_FLAGS :=
else
BUILD ?= build-san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Warnings are errors in CI (CI is set there), in make check and
# tests/sanitize.sh (they pass WERROR=1) and with WERROR=1, so no new
# warning gets in. A user's plain `make` (or make demo, make install) on a
# newer distro than CI's (a compiler or library that warns about something
# new, e.g. a deprecation) only shows the warning: the code is the same that
# passed CI, so failing would help nobody.
WERROR ?= $(if $(CI),1,)
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(if $(filter 1,$(WERROR)),-Werror)
GW_CFLAGS = -std=c11 -D_GNU_SOURCE -I. $(WARN) $(SAN_FLAGS) \
            $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(MBED_CFLAGS)
GW_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(MBED_LIBS) $(PAHO_LIBS) -lm
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

LIB_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c lwm2m/*.c mapping/*.c adapters/*.c adapters/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libgw.a
BIN := $(BUILD)/lwm2m-gateway

UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
SERVER_SRC := $(wildcard tests/server/*.c)
SERVER_BIN := $(BUILD)/lwm2m-test-server
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all deps deps-demo check unit integration demo bench fuzz install uninstall deb cross-check clean format tests-bin FORCE

all: $(BIN) $(SERVER_BIN)

deps:
	@[ -n "$(NO_DEPS)" ] || sh tools/install-deps.sh

deps-demo:
	@[ -n "$(NO_DEPS)" ] || sh tools/install-deps.sh --demo

# Everything built depends on the flags it is built with: a build dir last
# built without -Werror (or with other CFLAGS) is rebuilt when they change,
# so `make check` after a plain `make` still fails on a warning. The stamp
# is rewritten only when the flags differ, so an unchanged build stays
# untouched.
FLAGS_STAMP := $(BUILD)/flags.stamp
FLAGS_NOW = $(CC) $(GW_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GW_CFLAGS) $(CPPFLAGS) $(CFLAGS) -DGW_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

# JavaScript payload codecs run in duktape built from Debian's duktape-dev
# source (/usr/share/duktape), not its libduktape.so: Debian's library is
# built without the execution timeout hook, and a codec's time limit needs
# it. The generated duk_config.h is Debian's with the two options added.
# Built without sanitizers or -Werror: it is not our code.
DUK_SRC ?= /usr/share/duktape
DUK_DEFS = \#define DUK_USE_INTERRUPT_COUNTER\n\#define DUK_USE_EXEC_TIMEOUT_CHECK(u) gw_js_exec_timeout_check(u)\nextern int gw_js_exec_timeout_check(void *udata);
$(BUILD)/duk/duk_config.h $(BUILD)/duk/duktape.h: $(DUK_SRC)/duk_config.h $(DUK_SRC)/duktape.h
	@mkdir -p $(dir $@)
	cp $(DUK_SRC)/duktape.h $(DUK_SRC)/duktape.c $(BUILD)/duk/
	sed 's|^/\* __OVERRIDE_DEFINES__ \*/|$(DUK_DEFS)|' $(DUK_SRC)/duk_config.h > $(BUILD)/duk/duk_config.h
$(BUILD)/duk/duktape.o: $(BUILD)/duk/duk_config.h $(BUILD)/duk/duktape.h
	$(CC) -std=gnu99 -O2 -g -w -c $(BUILD)/duk/duktape.c -o $@
$(BUILD)/obj/adapters/payload/js_engine.o: GW_CFLAGS += -I$(BUILD)/duk
$(BUILD)/obj/adapters/payload/js_engine.o: $(BUILD)/duk/duk_config.h

$(LIB): $(LIB_OBJ) $(BUILD)/duk/duktape.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/gateway/main.o $(LIB)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(GW_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GW_CFLAGS) $(CPPFLAGS) $(CFLAGS) -Itests/unit -MMD -MP -MF $@.d -MT $@ -o $@ $< $(LIB) \
	  $(LDFLAGS) $(GW_LIBS)

# The test server shares no code with the gateway: only libcoap and cJSON.
$(SERVER_BIN): $(SERVER_SRC) $(wildcard tests/server/*.h) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS) \
	  $(shell $(PKG_CONFIG) --cflags libcoap-3-gnutls libcjson) -o $@ $(SERVER_SRC) \
	  $(LDFLAGS) $(shell $(PKG_CONFIG) --libs libcoap-3-gnutls libcjson)

$(BUILD)/bench/%: tests/bench/%.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GW_CFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $@.d -MT $@ -o $@ $< $(LIB) $(LDFLAGS) \
	  $(GW_LIBS)

tests-bin: all $(UNIT_BIN)

check: deps
	$(MAKE) WERROR=1 tests-bin
	@sh tests/run_tests.sh $(BUILD)

unit: deps
	$(MAKE) WERROR=1 $(UNIT_BIN)
	@sh tests/run_tests.sh $(BUILD) unit

integration: deps
	$(MAKE) WERROR=1 all
	@sh tests/run_tests.sh $(BUILD) integration

demo: deps-demo
	$(MAKE) all
	@sh tests/demo.sh $(BUILD)

bench: deps
	$(MAKE) all $(BENCH_BIN)
	@sh tests/bench/run.sh $(BUILD)

# libFuzzer needs clang; the library is rebuilt with clang and coverage.
# Its objects and targets track their headers like the main build (-MMD).
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
              $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(MBED_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
build-fuzz/obj/adapters/payload/js_engine.o: FUZZ_CFLAGS += -I$(BUILD)/duk
build-fuzz/obj/adapters/payload/js_engine.o: $(BUILD)/duk/duk_config.h
build-fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ) $(BUILD)/duk/duktape.o
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -MT $@ -o $@ $< $(FUZZ_OBJ) \
	  $(BUILD)/duk/duktape.o $(GW_LIBS)

# The fuzz objects are intermediates of the pattern rule; keep them.
.PRECIOUS: build-fuzz/obj/%.o

fuzz: deps
	$(MAKE) $(FUZZ_BIN)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

# FHS places. The unit and sysusers directories follow systemd's own
# pkg-config variables for PREFIX=/usr (Debian 12: /lib/systemd/system,
# 13: /usr/lib/systemd/system) and sit under PREFIX otherwise (systemd also
# reads /usr/local/lib/systemd/system and /usr/local/lib/sysusers.d). The
# configuration is always /etc/lwm2m-gateway (the daemon's default path),
# installed only when absent so an edited file is never overwritten.
SBINDIR ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
SYSTEMD_VAR = $(if $(filter /usr,$(PREFIX)),$(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null))
UNITDIR ?= $(or $(call SYSTEMD_VAR,systemdsystemunitdir),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(or $(call SYSTEMD_VAR,sysusersdir),$(PREFIX)/lib/sysusers.d)
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/lwm2m-gateway
CONFDIR := $(SYSCONFDIR)/lwm2m-gateway
EXAMPLES := $(wildcard examples/*.conf)
DOCS_INSTALLED := README.md docs/deployment.md docs/configuration.md

install: $(BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(CONFDIR)/objects
	install -m 755 $(BIN) $(DESTDIR)$(SBINDIR)/lwm2m-gateway
	sed 's#/usr/local/bin/lwm2m-gateway#$(SBINDIR)/lwm2m-gateway#' systemd/lwm2m-gateway.service \
	  > $(DESTDIR)$(UNITDIR)/lwm2m-gateway.service
	chmod 644 $(DESTDIR)$(UNITDIR)/lwm2m-gateway.service
	install -m 644 systemd/lwm2m-gateway.sysusers $(DESTDIR)$(SYSUSERSDIR)/lwm2m-gateway.conf
	install -m 644 docs/lwm2m-gateway.8 $(DESTDIR)$(MANDIR)/man8/lwm2m-gateway.8
	install -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 $(DOCS_INSTALLED) $(DESTDIR)$(DOCDIR)/
	@# it may hold psk_key: 0640, readable by the service's group
	[ -e $(DESTDIR)$(CONFDIR)/gateway.conf ] || \
	  install -m 640 examples/gateway.conf $(DESTDIR)$(CONFDIR)/gateway.conf
	@[ -n "$(DESTDIR)" ] || ! command -v systemd-sysusers >/dev/null || \
	  systemd-sysusers $(SYSUSERSDIR)/lwm2m-gateway.conf
	@[ -n "$(DESTDIR)" ] || ! getent group lwm2m-gateway >/dev/null || \
	  chgrp lwm2m-gateway $(CONFDIR)/gateway.conf
	@[ -n "$(DESTDIR)" ] || ! [ -d /run/systemd/system ] || systemctl daemon-reload

# Removes what install put there. The configuration goes only while it is
# still the shipped example; an edited one stays (and is named). The system
# user stays too (files it owned in state_dir would be orphaned otherwise).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lwm2m-gateway $(DESTDIR)$(UNITDIR)/lwm2m-gateway.service \
	  $(DESTDIR)$(SYSUSERSDIR)/lwm2m-gateway.conf $(DESTDIR)$(MANDIR)/man8/lwm2m-gateway.8 \
	  $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLES))) \
	  $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS_INSTALLED)))
	rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	if cmp -s examples/gateway.conf $(DESTDIR)$(CONFDIR)/gateway.conf; then \
	  rm -f $(DESTDIR)$(CONFDIR)/gateway.conf; \
	elif [ -e $(DESTDIR)$(CONFDIR)/gateway.conf ]; then \
	  echo "uninstall: kept $(DESTDIR)$(CONFDIR)/gateway.conf (edited)"; fi
	rmdir $(DESTDIR)$(CONFDIR)/objects $(DESTDIR)$(CONFDIR) 2>/dev/null || true
	@[ -n "$(DESTDIR)" ] || ! [ -d /run/systemd/system ] || systemctl daemon-reload

# The unit tests of a cross build, run under qemu-user (byte order and
# alignment on the target's CPU): make CROSS=aarch64-linux-gnu cross-check.
# Not part of make check. QEMU defaults to qemu-<arch> of CROSS.
QEMU ?= qemu-$(firstword $(subst -, ,$(CROSS)))
cross-check:
	@[ -n "$(CROSS)" ] || { echo "usage: make CROSS=aarch64-linux-gnu cross-check"; exit 2; }
	@[ -n "$(NO_DEPS)" ] || sh tools/install-deps.sh --cross $(CROSS)
	$(MAKE) CROSS=$(CROSS) WERROR=1 all $(UNIT_BIN)
	@file $(BIN)
	@GW_UNIT_WRAP=$(QEMU) sh tests/run_tests.sh $(BUILD) unit

# The Debian package, built by dpkg-buildpackage from a copy of the source
# files (tracked, and new ones git does not ignore), so the tree gets no
# debian/ build litter, into $(BUILD)/deb/, then checked by lintian (any
# error fails). Not part of make check: it rebuilds everything (45 s on a
# 2-core amd64, minutes on a Pi). The changelog's version must be VERSION's.
# tests/deb_install.sh installs it into a fresh root and checks the result.
DEB_DIR = $(BUILD)/deb
deb:
	@[ -n "$(NO_DEPS)" ] || sh tools/install-deps.sh --deb
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); [ "$$v" = "$(VERSION)" ] || \
	  { echo "debian/changelog is at $$v, VERSION at $(VERSION): add a changelog entry (dch -v $(VERSION))"; exit 1; }
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || \
	  { echo "make deb: needs a git checkout (it packages the files git knows)"; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/lwm2m-gateway-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | sort -zu | tar --null --ignore-failed-read -T - -cf - | \
	  tar -xf - -C $(DEB_DIR)/lwm2m-gateway-$(VERSION)
	cd $(DEB_DIR)/lwm2m-gateway-$(VERSION) && dpkg-buildpackage -b -us -uc
	lintian --fail-on error $(DEB_DIR)/*.changes
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i $(wildcard */*.c */*.h adapters/*/*.c adapters/*/*.h tests/*/*.c tests/*/*/*.c)

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/gateway/main.d $(UNIT_BIN:=.d) $(BENCH_BIN:=.d) \
         $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)
