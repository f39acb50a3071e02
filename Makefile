# lbl — layer-by-layer coating rig controller.
#
# The source is in layers; each may use those below it and nothing above:
#
#   client/  daemon/         the programs lblctl and lbld
#   web/                     lbl-web, the rig in a browser (lbld's socket only)
#   sync/                    lbl-sync, the record copied to PostgreSQL (db/ read-only)
#   mqtt/                    lbl-mqtt, live state to an MQTT broker (lbld's socket only)
#   hw/simrig/  hw/safe/     the programs lbl-simrig and lbl-safe
#   recipes/                 recipes and plans
#   hw/drivers/              Modbus and GPIO
#   db/                      the SQLite record
#   hw/rig/                  the rig model: rig files and device profiles
#   base/                    event loop, log, YAML and units, JSON, limits
#
# Each folder compiles with the include paths of its own layer and those
# below (LAYER_INC), so an include of a header from above does not compile,
# and each layer is its own archive, so a program links only the layers it
# needs (a call upward does not link). "make layers" also refuses an
# include by relative path ("../"), which would get round both. A new
# module needs no Makefile edit. Dependencies come from pkg-config only.

PKGS      := libmodbus libgpiod sqlite3 yaml-0.1
# What the build and the demo need (libraries and tools, no servers), and
# what the tests need besides: the tests' peers (pymodbus, mbpoll, socat),
# sanitizers and valgrind, chromium, and the servers they start privately
# (PostgreSQL, mosquitto). Debian starts a server's own service when it is
# installed, so make demo installs none of them.
BUILD_PKGS := build-essential pkg-config libmodbus-dev libgpiod-dev libsqlite3-dev libyaml-dev \
             libmicrohttpd-dev libcrypt-dev xxd libpq-dev libmosquitto-dev python3
DEB_PKGS  := $(BUILD_PKGS) \
             sqlite3 socat mbpoll python3-pymodbus python3-serial python3-yaml python3-jsonschema \
             clang libclang-rt-14-dev gnuplot-nox valgrind chromium postgresql \
             mosquitto mosquitto-clients openssl acl
CC       ?= cc
BUILD    ?= build
SAN      ?=
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

# libgpiod's API changed incompatibly in 2.0; pick the backend at build time.
GPIOD_V2 := $(shell pkg-config --atleast-version=2.0 libgpiod 2>/dev/null && echo 1)

CFLAGS   ?= -O2 -g
# 64-bit file offsets on 32-bit ARM too (Debian's armhf default from trixie
# on), so a Pi OS 32-bit build behaves as it does under qemu-user, where
# readdir() on a 64-bit host's ext4 fails with EOVERFLOW without them. No
# library API used here carries an off_t.
CFLAGS   += -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers -fno-common \
            -DLBL_VERSION='"$(VERSION)"' \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ifeq ($(SAN),1)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

# The layers, bottom up, and what each folder may include.
LAYER_INC_base        := -iquote base
LAYER_INC_hw/rig      := $(LAYER_INC_base) -iquote hw/rig
LAYER_INC_db          := $(LAYER_INC_base) -iquote db
LAYER_INC_hw/drivers  := $(LAYER_INC_hw/rig) -iquote hw/drivers
LAYER_INC_recipes     := $(LAYER_INC_hw/rig) -iquote recipes
LAYER_INC_hw/simrig   := $(LAYER_INC_hw/rig) -iquote hw/simrig
LAYER_INC_hw/safe     := $(LAYER_INC_hw/drivers) -iquote hw/safe
LAYER_INC_client      := $(LAYER_INC_hw/drivers) -iquote recipes -iquote client
LAYER_INC_daemon      := $(LAYER_INC_hw/drivers) -iquote recipes -iquote db -iquote daemon
# lbl-web sits on base/ alone: it reaches the rig only through lbld's socket.
LAYER_INC_web         := $(LAYER_INC_base) -iquote web $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
# lbl-sync reads the record through db/ (read-only) and writes PostgreSQL.
LAYER_INC_sync        := $(LAYER_INC_db) -iquote sync $(shell pkg-config --cflags libpq 2>/dev/null)
# lbl-mqtt too: lbld's socket and libmosquitto
LAYER_INC_mqtt        := $(LAYER_INC_base) -iquote mqtt $(shell pkg-config --cflags libmosquitto 2>/dev/null)
LAYER_INC_tests/unit  := $(LAYER_INC_daemon) -iquote client -iquote hw/simrig -iquote web -iquote mqtt \
                         -iquote tests/unit
LAYER_INC_tests/bench := $(LAYER_INC_daemon) -iquote tests/bench
LAYER_INC_tests/tools := $(LAYER_INC_daemon) -iquote tests/bench
LAYERS   := base hw/rig db hw/drivers recipes daemon client hw/simrig hw/safe web sync mqtt
layer_inc = $(LAYER_INC_$(patsubst %/,%,$(dir $(1))))

MAINS    := daemon/lbld_main.c client/lblctl_main.c hw/simrig/simrig_main.c hw/safe/safe_main.c \
            web/web_main.c sync/sync_main.c mqtt/mqtt_main.c
GPIO_SRC := hw/drivers/gpio_v1.c hw/drivers/gpio_v2.c
layer_src = $(filter-out $(MAINS) $(GPIO_SRC),$(wildcard $(1)/*.c)) \
            $(if $(filter hw/drivers,$(1)),$(if $(GPIOD_V2),hw/drivers/gpio_v2.c,hw/drivers/gpio_v1.c))
layer_lib = $(BUILD)/lib$(subst /,-,$(1)).a
LIB_SRC  := $(foreach l,$(LAYERS),$(call layer_src,$(l)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# What each program links, top layer first.
LIBS_lbld       := $(foreach l,daemon recipes hw/drivers db hw/rig base,$(call layer_lib,$(l)))
LIBS_lblctl     := $(foreach l,client recipes hw/drivers hw/rig base,$(call layer_lib,$(l)))
LIBS_simrig     := $(foreach l,hw/simrig hw/rig base,$(call layer_lib,$(l)))
LIBS_safe       := $(foreach l,hw/safe hw/drivers hw/rig base,$(call layer_lib,$(l)))
LIBS_web        := $(foreach l,web base,$(call layer_lib,$(l)))
LIBS_sync       := $(foreach l,sync db base,$(call layer_lib,$(l)))
# lbl-sync alone links libpq
SYNC_LDLIBS     := $(shell pkg-config --libs libpq sqlite3 2>/dev/null) -lm
LIBS_mqtt       := $(foreach l,mqtt base,$(call layer_lib,$(l)))
# lbl-mqtt alone links libmosquitto
MQTT_LDLIBS     := $(shell pkg-config --libs libmosquitto yaml-0.1 2>/dev/null) -lpthread -lm
# lbl-web alone links libmicrohttpd and libcrypt (yescrypt)
WEB_LDLIBS      := $(shell pkg-config --libs libmicrohttpd libcrypt yaml-0.1 2>/dev/null) -lpthread -lm
# The pages lbl-web serves, built into it (web/embed.sh; all under 150 kB)
WEB_PAGES       := $(sort $(wildcard web/pages/*.html web/pages/*.js web/pages/*.css))
LIBS_all        := $(foreach l,client hw/simrig hw/safe daemon recipes hw/drivers db hw/rig base,$(call layer_lib,$(l)))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BINS     := $(BUILD)/lbld $(BUILD)/lblctl $(BUILD)/lbl-simrig $(BUILD)/lbl-safe $(BUILD)/lbl-web \
            $(BUILD)/lbl-sync $(BUILD)/lbl-mqtt

# histgen.c is no benchmark: the batch record bench_history and the tests'
# lbl-histgen make (built with everything: tests call it).
HISTGEN_OBJ := $(BUILD)/tests/bench/histgen.o
BENCH_SRC := $(filter-out tests/bench/histgen.c,$(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
TOOL_BIN  := $(BUILD)/tests/lbl-histgen

PREFIX   ?= /usr/local
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share
DOCDIR   ?= $(DATADIR)/doc/lbl
# systemd looks for units in /lib; with PREFIX=/usr (packages) this is /usr/lib
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/usr/lib,/lib)/systemd/system
SYSLIBDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib,/lib)

.PHONY: all deps deps-build check check-long unit demo fuzz bench bench-steps clean install layers screenshots
.SECONDARY:
all: layers $(BINS) $(UNIT_BIN) $(TOOL_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call layer_inc,$<) -MMD -MP -c $< -o $@

# One archive per layer (build/libbase.a, build/libhw-rig.a, ...).
define layer_rule
$(call layer_lib,$(1)): $(patsubst %.c,$(BUILD)/%.o,$(call layer_src,$(1)))
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

# An include by relative path would get round the layers' include paths.
layers:
	@bad=$$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.\./' \
	    $(foreach l,$(LAYERS),$(l)/*.[ch]) 2>/dev/null); \
	if [ -n "$$bad" ]; then \
	    echo "layers: an include by relative path gets round the layers (see Makefile):" >&2; \
	    echo "$$bad" >&2; exit 1; \
	fi

$(BUILD)/lbld: $(BUILD)/daemon/lbld_main.o $(LIBS_lbld)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/lblctl: $(BUILD)/client/lblctl_main.o $(LIBS_lblctl)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/lbl-simrig: $(BUILD)/hw/simrig/simrig_main.o $(LIBS_simrig)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/lbl-safe: $(BUILD)/hw/safe/safe_main.o $(LIBS_safe)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/web/web_pages.c: web/embed.sh $(WEB_PAGES)
	@mkdir -p $(dir $@)
	@total=$$(cat $(WEB_PAGES) | wc -c); [ $$total -lt 153600 ] || \
	    { echo "web/pages: $$total bytes, more than the 150 kB the pages may take" >&2; exit 1; }
	web/embed.sh $@ $(WEB_PAGES)
$(BUILD)/web/web_pages.o: $(BUILD)/web/web_pages.c
	$(CC) $(CFLAGS) $(LAYER_INC_web) -c $< -o $@
$(BUILD)/lbl-web: $(BUILD)/web/web_main.o $(BUILD)/web/web_pages.o $(LIBS_web)
	$(CC) $(LDFLAGS) $^ $(WEB_LDLIBS) -o $@
$(BUILD)/lbl-sync: $(BUILD)/sync/sync_main.o $(LIBS_sync)
	$(CC) $(LDFLAGS) $^ $(SYNC_LDLIBS) -o $@
$(BUILD)/lbl-mqtt: $(BUILD)/mqtt/mqtt_main.o $(LIBS_mqtt)
	$(CC) $(LDFLAGS) $^ $(MQTT_LDLIBS) -o $@
# test_web_conf includes web_conf.c, which checks password hashes with libcrypt
$(BUILD)/tests/test_web_conf: LDLIBS += $(WEB_LDLIBS)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBS_all)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIBS_all)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/bench/bench_history: $(BUILD)/tests/bench/bench_history.o $(HISTGEN_OBJ) $(LIBS_all)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/tests/lbl-histgen: $(BUILD)/tests/tools/lbl_histgen.o $(HISTGEN_OBJ) $(LIBS_all)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Benchmarks print figures; they are not tests. All of them, one after the
# other, on the plain build: the C ones (planning, SQLite commits, Modbus
# driver against raw libmodbus, history on 10,000 batches), then footprint,
# e-stop latency, step timing three ways (bench_steps.py: lbld, a careful
# pymodbus loop on absolute deadlines and a plain time.sleep script, on TCP
# and emulated RTU at 19,200 and 115,200 baud), and step timing under 20
# clients reading the record (bench_readers.py), and step timing and
# lbl-web's footprint with 50 browsers following (bench_web.py), and
# lbl-sync: 10,000 recorded batches copied to PostgreSQL, step timing with
# and without it (bench_sync.sh), and step timing with lbl-mqtt publishing
# and its footprint (bench_mqtt.py). BENCH_STEPS=2000 is the
# full step-timing run (about 35 minutes, the transports at once);
# BENCH_STEPS=100 takes two. make bench-steps runs the step timing alone.
BENCH_STEPS  ?= 2000
BENCH_READER_STEPS ?= 120
BENCH_TRIALS ?= 200
BENCH_IDLE_S ?= 60
bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done
	@echo "== tests/bench/bench_footprint.py $(BENCH_IDLE_S)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_footprint.py $(BENCH_IDLE_S)
	@echo "== tests/bench/bench_estop.py $(BENCH_TRIALS)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_estop.py $(BENCH_TRIALS)
	@$(MAKE) --no-print-directory bench-steps
	@echo "== tests/bench/bench_readers.py $(BENCH_READER_STEPS)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_readers.py $(BENCH_READER_STEPS)
	@echo "== tests/bench/bench_web.py $(BENCH_READER_STEPS)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_web.py $(BENCH_READER_STEPS)
	@echo "== tests/bench/bench_sync.sh 10000 $(BENCH_READER_STEPS)"
	@LBL_TOP=$(CURDIR) LBL_BUILD=$(CURDIR)/$(BUILD) tests/bench/bench_sync.sh 10000 $(BENCH_READER_STEPS)
	@echo "== tests/bench/bench_mqtt.py $(BENCH_READER_STEPS)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_mqtt.py $(BENCH_READER_STEPS)

bench-steps: all
	@echo "== tests/bench/bench_steps.py $(BENCH_STEPS)"
	@LBL_BUILD=$(CURDIR)/$(BUILD) /usr/bin/python3 tests/bench/bench_steps.py $(BENCH_STEPS)

# Installs whatever Debian packages are missing (sudo when not root).
deps: DEPS_PKGS = $(DEB_PKGS)
deps-build: DEPS_PKGS = $(BUILD_PKGS)
deps deps-build:
	@missing=$(call lbl_missing,$(DEPS_PKGS)); \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# The whole test suite: a plain build, then everything again under ASan+UBSan.
check: deps
	$(MAKE) all
	$(MAKE) BUILD=build/san SAN=1 all
	LBL_PLAIN_BUILD=$(CURDIR)/$(BUILD) tests/run.sh build/san
	$(MAKE) check-gpio-v2

# make check-long: the generated-recipe test with 2,000 recipes instead of
# make check's few hundred (GEN_RECIPES=N for another count, GEN_SEED=S to
# replay), against the sanitized build: about 11 minutes on 2 cores (400 took
# 126 s of make check).
GEN_LONG ?= 2000
check-long: deps
	$(MAKE) all
	$(MAKE) BUILD=build/san SAN=1 all
	GEN_RECIPES=$${GEN_RECIPES:-$(GEN_LONG)} LBL_TESTS=test_generated \
	    LBL_PLAIN_BUILD=$(CURDIR)/$(BUILD) tests/run.sh build/san integration

unit: all
	tests/run.sh $(BUILD) unit

# Screenshots of lbl-web's pages (rig with its prompt, running, history and
# a batch's detail, compare, a recipe's plan), taken by the browser test in
# headless chromium at a phone's width, into doc/screenshots/ (the README
# shows them); with ImageMagick's convert at hand, in 64 colours (smaller).
screenshots: all
	LBL_SCREENSHOTS=$(CURDIR)/$(BUILD)/screenshots LBL_TESTS=test_web_browser \
	    tests/run.sh $(BUILD) integration
	@mkdir -p doc/screenshots
	@for f in $(BUILD)/screenshots/*.png; do \
	    if command -v convert >/dev/null 2>&1; then \
	        convert "$$f" -colors 64 "PNG8:doc/screenshots/$${f##*/}" || exit 1; \
	    else cp "$$f" doc/screenshots/ || exit 1; fi; \
	done
	@ls -l doc/screenshots/*.png

demo: deps-build
	$(MAKE) all
	tests/demo.sh $(BUILD)

fuzz: deps
	tests/fuzz/run.sh 600

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSLIBDIR)/sysusers.d $(DESTDIR)$(SYSLIBDIR)/tmpfiles.d \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/lbl/examples \
	    $(DESTDIR)$(DATADIR)/lbl/schema $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/lbld $(BUILD)/lbl-web $(BUILD)/lbl-mqtt $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/lblctl $(BUILD)/lbl-simrig $(BUILD)/lbl-safe $(BUILD)/lbl-sync \
	    $(DESTDIR)$(BINDIR)/
	install -m 0644 client/lblctl.1 hw/simrig/lbl-simrig.1 hw/safe/lbl-safe.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 recipes/lbl-recipe.5 hw/lbl-rig.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 daemon/lbld.8 web/lbl-web.8 sync/lbl-sync.8 mqtt/lbl-mqtt.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|/usr/sbin/lbld|$(SBINDIR)/lbld|' -e 's|/usr/bin/lbl-safe|$(BINDIR)/lbl-safe|' \
	    systemd/lbld.service >$(DESTDIR)$(UNITDIR)/lbld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbld.service
	sed -e 's|/usr/sbin/lbl-web|$(SBINDIR)/lbl-web|' \
	    systemd/lbl-web.service >$(DESTDIR)$(UNITDIR)/lbl-web.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbl-web.service
	sed -e 's|/usr/bin/lbl-sync|$(BINDIR)/lbl-sync|' \
	    systemd/lbl-sync.service >$(DESTDIR)$(UNITDIR)/lbl-sync.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbl-sync.service
	install -m 0644 systemd/lbl-web.sysusers $(DESTDIR)$(SYSLIBDIR)/sysusers.d/lbl-web.conf
	install -m 0644 systemd/lbl-sync.sysusers $(DESTDIR)$(SYSLIBDIR)/sysusers.d/lbl-sync.conf
	sed -e 's|/usr/sbin/lbl-mqtt|$(SBINDIR)/lbl-mqtt|' \
	    systemd/lbl-mqtt.service >$(DESTDIR)$(UNITDIR)/lbl-mqtt.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbl-mqtt.service
	install -m 0644 systemd/lbl-mqtt.sysusers $(DESTDIR)$(SYSLIBDIR)/sysusers.d/lbl-mqtt.conf
	install -m 0644 systemd/lbl-mqtt.tmpfiles $(DESTDIR)$(SYSLIBDIR)/tmpfiles.d/lbl-mqtt.conf
	install -m 0644 systemd/lbl.sysusers $(DESTDIR)$(SYSLIBDIR)/sysusers.d/lbl.conf
	install -m 0644 systemd/lbl.tmpfiles $(DESTDIR)$(SYSLIBDIR)/tmpfiles.d/lbl.conf
	install -m 0644 client/lblctl.bash-completion \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/lblctl
	install -m 0644 recipes/examples/*.yaml hw/examples/*.yaml $(DESTDIR)$(DATADIR)/lbl/examples/
	install -m 0644 recipes/lbl-recipe.schema.json hw/lbl-rig.schema.json \
	    $(DESTDIR)$(DATADIR)/lbl/schema/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 web/web.yaml.example $(DESTDIR)$(DATADIR)/lbl/examples/web.yaml
	install -m 0644 mqtt/mqtt.yaml.example $(DESTDIR)$(DATADIR)/lbl/examples/mqtt.yaml

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/tests/*/*.d)

# --- Debian package and cross builds -----------------------------------------
# lbl_missing PKG...: a shell command substitution that lists those of the
# Debian packages that are not installed.
lbl_missing = $$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done)

# lbl_need PKG...: installs those Debian packages that are missing (sudo when
# not root), like "deps". Packages may carry an architecture (libyaml-dev:arm64).
lbl_need = missing=$(call lbl_missing,$(1)); \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq || echo "apt-get update failed; installing from the lists there are"; \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# make cross ARCH=arm64|armhf: a cross build with Debian's cross compiler
# (gcc-TRIPLET; its libc lives in /usr/TRIPLET) into build/ARCH. The target's
# libraries come from the multiarch -dev packages (libyaml-dev:ARCH ...),
# installed when missing, if apt can install them without removing anything.
# If it cannot (say the mirror's ARCH index lags the host's, so Multi-Arch:
# same packages such as linux-libc-dev or libssl3 cannot match the host's
# versions), cross builds against a sysroot instead: CROSS_SYSROOT_DEBS, for
# ARCH, fetched with apt-get download (nothing is installed) and unpacked in
# build/ARCH-sysroot, whose .pc files give the -I and -L flags; their libc,
# libgcc and libstdc++ are the cross compiler's. Once that sysroot exists,
# cross tries the multiarch packages against the lists apt has, without
# updating them itself. Either way it records in build/ARCH/qemu.args how
# qemu-user finds the target's libraries: -L / for the multiarch packages;
# for a sysroot, -L /usr/TRIPLET and the sysroot's library directory in the
# guest's LD_LIBRARY_PATH. make cross-check ARCH=... then runs the tests
# under qemu-user through small wrapper scripts in build/ARCH-qemu.
ARCH        ?= arm64
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
CROSS_TRIPLET_armhf := arm-linux-gnueabihf
CROSS_QEMU_arm64    := qemu-aarch64
CROSS_QEMU_armhf    := qemu-arm
CROSS_TRIPLET = $(CROSS_TRIPLET_$(ARCH))
CROSS_QEMU    = $(CROSS_QEMU_$(ARCH))
CROSS_CC      = $(CROSS_TRIPLET)-gcc
CROSS_BUILD   = build/$(ARCH)
CROSS_TOOLS   = gcc-$(CROSS_TRIPLET) qemu-user
CROSS_DEVPKGS = $(foreach p,libmodbus-dev libgpiod-dev libsqlite3-dev libyaml-dev libmicrohttpd-dev \
                libcrypt-dev libpq-dev libmosquitto-dev,$(p):$(ARCH))
CROSS_SYSROOT_DEBS := libmodbus-dev libmodbus5 libgpiod-dev libgpiod2 libsqlite3-dev libsqlite3-0 \
                      libyaml-dev libyaml-0-2 libmicrohttpd-dev libmicrohttpd12 libcrypt-dev libcrypt1 \
                      libgnutls30 libp11-kit0 libidn2-0 libunistring2 libtasn1-6 libnettle8 \
                      libhogweed6 libgmp10 libffi8 \
                      libpq-dev libpq5 libssl3 libgssapi-krb5-2 libldap-2.5-0 libkrb5-3 \
                      libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libsasl2-2 \
                      libsasl2-modules-db libdb5.3 libmosquitto-dev libmosquitto1
CROSS_SYSROOT     = build/$(ARCH)-sysroot
CROSS_SYSROOT_DIR = $(CURDIR)/$(CROSS_SYSROOT)
CROSS_SYSROOT_LIB = $(CROSS_SYSROOT_DIR)/usr/lib/$(CROSS_TRIPLET)
# pkg-config on the sysroot's .pc files, every -I and -L kept (/usr/include
# there is not the system's) and prefixed with the sysroot
CROSS_SYSROOT_PC  = PKG_CONFIG_PATH= \
                    PKG_CONFIG_LIBDIR=$(CROSS_SYSROOT_LIB)/pkgconfig:$(CROSS_SYSROOT_DIR)/usr/share/pkgconfig \
                    PKG_CONFIG_SYSROOT_DIR=$(CROSS_SYSROOT_DIR) \
                    PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1

.PHONY: cross cross-check deb cross-multiarch cross-sysroot
cross:
	@[ -n "$(CROSS_TRIPLET)" ] || { echo "ARCH must be arm64 or armhf, not '$(ARCH)'"; exit 1; }
	@sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	if [ "$$(dpkg --print-architecture)" != $(ARCH) ] && \
	    ! dpkg --print-foreign-architectures | grep -qx $(ARCH); then \
	    echo "adding architecture $(ARCH)"; $$sudo dpkg --add-architecture $(ARCH); \
	fi
	@$(call lbl_need,$(CROSS_TOOLS))
	@sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; from=multiarch; \
	missing=$(call lbl_missing,$(CROSS_DEVPKGS)); \
	if [ -n "$$missing" ]; then \
	    if [ ! -f $(CROSS_SYSROOT)/.complete ]; then \
	        $$sudo apt-get update -qq || echo "apt-get update failed; trying the lists there are"; \
	    fi; \
	    if ! why=$$(apt-get install -s --no-remove $$missing 2>&1); then \
	        echo "cross: apt cannot install" $$missing; \
	        echo "$$why" | grep -E '^ .* : |^E: ' | sed 's/^/    /'; from=sysroot; \
	    else \
	        echo "installing:" $$missing; \
	        DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-remove $$missing || \
	            { echo "cross: installing" $$missing "failed"; from=sysroot; }; \
	    fi; \
	    [ $$from = multiarch ] || echo "cross: building against the sysroot $(CROSS_SYSROOT) instead"; \
	fi; \
	$(MAKE) --no-print-directory cross-$$from
	@file $(CROSS_BUILD)/lbld

# The two ways cross builds (called by it; cross-sysroot can be run alone).
cross-multiarch:
	PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_TRIPLET)/pkgconfig:/usr/share/pkgconfig \
	    $(MAKE) BUILD=$(CROSS_BUILD) CC="$(CROSS_CC)" AR=$(CROSS_TRIPLET)-ar all
	@printf '%s\n' '-L /' >$(CROSS_BUILD)/qemu.args
cross-sysroot: $(CROSS_SYSROOT)/.complete
	$(CROSS_SYSROOT_PC) LDFLAGS="$(strip $(LDFLAGS) -Wl,-rpath-link,$(CROSS_SYSROOT_LIB))" \
	    $(MAKE) BUILD=$(CROSS_BUILD) CC="$(CROSS_CC)" AR=$(CROSS_TRIPLET)-ar all
	@printf '%s\n' '-L /usr/$(CROSS_TRIPLET) -E LD_LIBRARY_PATH=$(CROSS_SYSROOT_LIB)' \
	    >$(CROSS_BUILD)/qemu.args

# The marker is written last, so an interrupted or failed run is redone in full.
$(CROSS_SYSROOT)/.complete:
	@[ -n "$(CROSS_TRIPLET)" ] || { echo "ARCH must be arm64 or armhf, not '$(ARCH)'"; exit 1; }
	rm -rf $(CROSS_SYSROOT) && mkdir -p $(CROSS_SYSROOT)/debs
	cd $(CROSS_SYSROOT)/debs && apt-get -qq -o APT::Sandbox::User="$$(id -un)" download \
	    $(foreach p,$(CROSS_SYSROOT_DEBS),$(p):$(ARCH)) || \
	    { echo "cross: cannot download the $(ARCH) packages (apt-get update? network?)" >&2; exit 1; }
	for deb in $(CROSS_SYSROOT)/debs/*.deb; do dpkg -x "$$deb" $(CROSS_SYSROOT) || exit 1; done
	@export $(CROSS_SYSROOT_PC); \
	pkg-config --print-errors --exists $(PKGS) || \
	    { echo "cross: $(CROSS_SYSROOT) lacks the .pc files of $(PKGS)" >&2; exit 1; }; \
	for p in $(PKGS); do \
	    d=$$(pkg-config --variable=libdir $$p); \
	    ls $$d/lib*.so >/dev/null 2>&1 || { echo "cross: no library in $$d for $$p" >&2; exit 1; }; \
	    echo "cross: $$p $$(pkg-config --modversion $$p) in $$d"; \
	done
	touch $@

# Each target binary gets a wrapper that runs it under qemu-user with the
# arguments in build/ARCH/qemu.args (see cross; no binfmt_misc needed): the
# multiarch packages put the target's ld.so and libraries under /, so -L /
# finds them all. The unit tests, then the integration tests that drive
# lbld, lblctl and lbl-simrig as processes, run through them (the others
# need host tools: valgrind, libFuzzer, make install).
CROSS_ITESTS := test_daemon_runs test_daemon_control test_daemon_crash test_simrig \
                test_history test_cli_recipe
cross-check: cross
	rm -rf $(CROSS_BUILD)-qemu && mkdir -p $(CROSS_BUILD)-qemu/tests
	@for t in $(CROSS_BUILD)/tests/test_* $(CROSS_BUILD)/lbld $(CROSS_BUILD)/lblctl \
	    $(CROSS_BUILD)/lbl-simrig; do \
	    [ -x "$$t" ] || continue; \
	    w=$(CROSS_BUILD)-qemu/$${t#$(CROSS_BUILD)/}; \
	    printf '#!/bin/sh\nexec %s %s %s "$$@"\n' $(CROSS_QEMU) "$$(cat $(CROSS_BUILD)/qemu.args)" \
	        "$$(pwd)/$$t" >$$w; \
	    chmod +x $$w; \
	done
	tests/run.sh $(CROSS_BUILD)-qemu unit
	LBL_TESTS="$(CROSS_ITESTS)" tests/run.sh $(CROSS_BUILD)-qemu integration

# make deb: the Debian package (debian/), built with dpkg-buildpackage, which
# writes next to the tree; the .deb, -dbgsym .deb, .buildinfo and .changes
# are moved to build/ and debian/ is cleaned. make deb LINT=1 runs lintian.
DEB_TOOLS = debhelper dpkg-dev fakeroot lintian pkg-config libmodbus-dev libgpiod-dev \
            libsqlite3-dev libyaml-dev libmicrohttpd-dev libcrypt-dev xxd libpq-dev
deb:
	@$(call lbl_need,$(DEB_TOOLS))
	@mkdir -p build
	dpkg-buildpackage -us -uc -b
	@v=$$(dpkg-parsechangelog -S Version); a=$$(dpkg-architecture -qDEB_HOST_ARCH); \
	for f in lbl_$${v}_$$a.deb lbl-dbgsym_$${v}_$$a.deb lbl_$${v}_$$a.buildinfo lbl_$${v}_$$a.changes; do \
	    [ -f ../$$f ] && mv -f ../$$f build/; \
	done; \
	debian/rules clean >/dev/null; \
	ls -l build/lbl_$${v}_$$a.deb; \
	if [ -n "$(LINT)" ]; then lintian -I build/lbl_$${v}_$$a.changes; fi

# --- The libgpiod v2 backend ---------------------------------------------------
# Debian 12 ships libgpiod 1.6, so the builds above compile hw/drivers/gpio_v1.c only.
# make gpiod2 fetches libgpiod 2.1 (libgpiod-dev, libgpiod3) from
# bookworm-backports with a private apt configuration (nothing under /etc/apt
# or /var/lib/apt changes, nothing is installed) and unpacks it in
# build/gpiod2/root, with a libgpiod.pc whose prefix points there and whose
# Libs carry an rpath, so what is built against it runs from the tree. It
# needs the network once; a failed download fails the target (apt-get update
# alone would only warn). make check-gpio-v2 builds everything against it,
# under ASan+UBSan, in build/gpiod2/out, makes sure gpio_v2.o is the backend
# that was built, and runs the unit tests.
GPIOD2      := build/gpiod2
GPIOD2_DIR  := $(CURDIR)/$(GPIOD2)
GPIOD2_PC   := $(GPIOD2)/pkgconfig/libgpiod.pc
# Only this sources file and no local pins count; the sandbox user is whoever
# runs this, as _apt may not reach into build/.
GPIOD2_APT   = -o Dir::Etc::SourceParts=/dev/null \
               -o Dir::Etc::sourcelist=$(GPIOD2_DIR)/apt/bpo.sources \
               -o Dir::Etc::PreferencesParts=/dev/null -o Dir::Etc::preferences=/dev/null \
               -o Dir::State::Lists=$(GPIOD2_DIR)/apt/lists \
               -o Dir::Cache=$(GPIOD2_DIR)/apt/cache -o APT::Sandbox::User="$$(id -un)"
# libgpiod3 is 2.x's runtime package (soname 3), which -dev depends on.
GPIOD2_DEBS := libgpiod-dev/bookworm-backports libgpiod3/bookworm-backports

.PHONY: gpiod2 check-gpio-v2
gpiod2: $(GPIOD2_PC)

# The .pc is written last, through a temporary directory, so an interrupted
# or failed run leaves no target behind and is redone in full next time.
$(GPIOD2_PC):
	rm -rf $(GPIOD2)/apt $(GPIOD2)/debs $(GPIOD2)/root $(GPIOD2)/pkgconfig $(GPIOD2)/pkgconfig.tmp
	mkdir -p $(GPIOD2)/apt/lists/partial $(GPIOD2)/apt/cache/archives/partial \
	    $(GPIOD2)/debs $(GPIOD2)/root $(GPIOD2)/pkgconfig.tmp
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
	    'Suites: bookworm-backports' 'Components: main' \
	    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >$(GPIOD2)/apt/bpo.sources
	apt-get $(GPIOD2_APT) -qq --error-on=any update || \
	    { echo "gpiod2: cannot fetch the bookworm-backports index (network?)" >&2; exit 1; }
	cd $(GPIOD2)/debs && apt-get $(GPIOD2_APT) -qq download $(GPIOD2_DEBS) || \
	    { echo "gpiod2: cannot download $(GPIOD2_DEBS)" >&2; exit 1; }
	for deb in $(GPIOD2)/debs/*.deb; do dpkg -x "$$deb" $(GPIOD2)/root || exit 1; done
	@pc=$$(find $(GPIOD2)/root -path '*/pkgconfig/libgpiod.pc' | head -n 1); \
	if [ -z "$$pc" ]; then echo "gpiod2: the packages hold no libgpiod.pc" >&2; exit 1; fi; \
	sed -e 's|^prefix=.*|prefix=$(GPIOD2_DIR)/root/usr|' \
	    -e 's|^Libs:|Libs: -Wl,-rpath,$${libdir}|' "$$pc" >$(GPIOD2)/pkgconfig.tmp/libgpiod.pc
	@export PKG_CONFIG_PATH=$(GPIOD2_DIR)/pkgconfig.tmp; \
	libdir=$$(pkg-config --variable=libdir libgpiod); \
	incdir=$$(pkg-config --variable=includedir libgpiod); \
	pkg-config --atleast-version=2.0 libgpiod || \
	    { echo "gpiod2: got libgpiod $$(pkg-config --modversion libgpiod), not 2.x" >&2; exit 1; }; \
	case "$$libdir" in $(GPIOD2_DIR)/*) ;; \
	    *) echo "gpiod2: libdir $$libdir is outside $(GPIOD2)" >&2; exit 1 ;; esac; \
	[ -e "$$libdir/libgpiod.so" ] && [ -f "$$incdir/gpiod.h" ] || \
	    { echo "gpiod2: no libgpiod.so in $$libdir or gpiod.h in $$incdir" >&2; exit 1; }; \
	echo "gpiod2: libgpiod $$(pkg-config --modversion libgpiod) in $$libdir"
	mv $(GPIOD2)/pkgconfig.tmp $(GPIOD2)/pkgconfig

check-gpio-v2: deps
	$(MAKE) gpiod2
	PKG_CONFIG_PATH=$(GPIOD2_DIR)/pkgconfig $(MAKE) BUILD=$(GPIOD2)/out SAN=1 all
	@members=$$($(AR) t $(GPIOD2)/out/libhw-drivers.a) || exit 1; \
	if ! echo "$$members" | grep -qx gpio_v2.o || echo "$$members" | grep -qx gpio_v1.o; then \
	    echo "check-gpio-v2: $(GPIOD2)/out/libhw-drivers.a does not hold gpio_v2.o alone" >&2; exit 1; \
	fi
	@ldd $(GPIOD2)/out/lbld | grep -q '$(GPIOD2_DIR)/root/.*/libgpiod\.so\.3 ' || \
	    { echo "check-gpio-v2: lbld does not load libgpiod.so.3 from $(GPIOD2)" >&2; exit 1; }
	tests/run.sh $(GPIOD2)/out unit
