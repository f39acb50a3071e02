# lbl — layer-by-layer coating rig controller.
#
# Every source file outside the three mains goes into build/liblbl.a, so a new
# module needs no Makefile edit. Dependencies come from pkg-config only.

PKGS      := libmodbus libgpiod sqlite3 yaml-0.1
DEB_PKGS  := build-essential pkg-config libmodbus-dev libgpiod-dev libsqlite3-dev \
             libyaml-dev sqlite3 socat mbpoll python3 python3-pymodbus \
             clang libclang-rt-14-dev gnuplot-nox
CC       ?= cc
BUILD    ?= build
SAN      ?=
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

# libgpiod's API changed incompatibly in 2.0; pick the backend at build time.
GPIOD_V2 := $(shell pkg-config --atleast-version=2.0 libgpiod 2>/dev/null && echo 1)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers -fno-common \
            -DLBL_VERSION='"$(VERSION)"' -Idaemon -Irecipes -Ihw -Idb \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ifeq ($(SAN),1)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

MAINS    := daemon/lbld_main.c daemon/lblctl_main.c hw/simrig_main.c
GPIO_SRC := hw/gpio_v1.c hw/gpio_v2.c
LIB_SRC  := $(filter-out $(MAINS) $(GPIO_SRC), $(wildcard daemon/*.c recipes/*.c hw/*.c db/*.c))
LIB_SRC  += $(if $(GPIOD_V2),$(wildcard hw/gpio_v2.c),$(wildcard hw/gpio_v1.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BINS     := $(foreach m,$(MAINS),$(if $(wildcard $(m)),$(BUILD)/$(patsubst %_main,%,$(basename $(notdir $(m))))))
BINS     := $(subst simrig,lbl-simrig,$(BINS))

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

PREFIX   ?= /usr/local
DESTDIR  ?=
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share
# systemd looks for units in /lib; with PREFIX=/usr (packages) this is /usr/lib
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/usr/lib,/lib)/systemd/system
SYSLIBDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib,/lib)

.PHONY: all deps check unit demo fuzz bench clean install
.SECONDARY:
all: $(BINS) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/liblbl.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/lbld: $(BUILD)/daemon/lbld_main.o $(BUILD)/liblbl.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/lblctl: $(BUILD)/daemon/lblctl_main.o $(BUILD)/liblbl.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/lbl-simrig: $(BUILD)/hw/simrig_main.o $(BUILD)/liblbl.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/liblbl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(BUILD)/liblbl.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Benchmarks print figures; they are not tests.
bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# Installs whatever Debian packages are missing (sudo when not root).
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# The whole test suite: a plain build, then everything again under ASan+UBSan.
check: deps
	$(MAKE) all
	$(MAKE) BUILD=build/san SAN=1 all
	tests/run.sh build/san

unit: all
	tests/run.sh $(BUILD) unit

demo: deps
	$(MAKE) all
	tests/demo.sh $(BUILD)

fuzz: deps
	tests/fuzz/run.sh 600

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSLIBDIR)/sysusers.d $(DESTDIR)$(SYSLIBDIR)/tmpfiles.d \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/lbl/examples
	install -m 0755 $(BUILD)/lbld $(DESTDIR)$(SBINDIR)/lbld
	install -m 0755 $(BUILD)/lblctl $(BUILD)/lbl-simrig $(DESTDIR)$(BINDIR)/
	install -m 0644 daemon/lblctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 recipes/lbl-recipe.5 hw/lbl-rig.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 daemon/lbld.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/sbin/lbld|$(SBINDIR)/lbld|' systemd/lbld.service >$(DESTDIR)$(UNITDIR)/lbld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbld.service
	install -m 0644 systemd/lbl.sysusers $(DESTDIR)$(SYSLIBDIR)/sysusers.d/lbl.conf
	install -m 0644 systemd/lbl.tmpfiles $(DESTDIR)$(SYSLIBDIR)/tmpfiles.d/lbl.conf
	install -m 0644 daemon/lblctl.bash-completion \
	    $(DESTDIR)$(DATADIR)/bash-completion/completions/lblctl
	install -m 0644 recipes/examples/*.yaml hw/examples/*.yaml $(DESTDIR)$(DATADIR)/lbl/examples/

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(wildcard $(BUILD)/*/*.d $(BUILD)/tests/unit/*.d)
