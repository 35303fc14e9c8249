# Makefile: the one build of the OCPP gateway.
#
#   make            build every service and tool into build/bin
#   make tests      also the unit tests and the test doubles of tests/tools/ (build/tests)
#   make run        install missing packages, build, start one pod (scripts/run.sh)
#   make demo       make run + 100 simulated charge points (cp-sim) + live events (ocppctl)
#   make check      install missing packages, build, run every test; closes with "N passed, M failed"
#   make lint       clang-format check + banned functions
#   make code       regenerate sources from proto/ ; make code-check fails if that changes anything
#   make fuzz       build the libFuzzer drivers (clang) ; FUZZ_SECONDS=N make fuzz-run runs each
#                   (FUZZ=name runs only fuzz_<name>)
#   make bench      build the benchmark programs (bench/) and the test doubles, run bench/bench_*.sh
#   make bench-e2e  only the end-to-end benchmark (the pod, the Node peer, the lws limit)
#   make bench-downlink  only the downlink benchmark (commands-down -> stations -> command-results)
#   SANITIZER=address,undefined make check   the same tests under sanitizers
#
# Each stage links only its own third-party library (DESIGN §1): see the *_PKGS below.

CC       ?= cc
BUILD    ?= build
O        := $(BUILD)/obj
BIN      := $(BUILD)/bin

COMMON_PKGS   := libczmq libzmq msgpack yaml-0.1
EDGE_PKGS     := libwebsockets libuv libssl libcrypto
CORE_PKGS     := jansson libcrypto
BRIDGE_PKGS   := rdkafka jansson libcrypto
REGISTRY_PKGS := hiredis libcrypto
KAFKADEV_PKGS := rdkafka
CPSIM_PKGS    := jansson libcrypto
OCPPCTL_PKGS  := hiredis rdkafka jansson libcrypto
TEST_PKGS     := check

pkg_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pkg_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) -MMD -MP -I. -Icommon
LDLIBS_BASE := -lpthread -lm

ifneq ($(SANITIZER),)
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZER)
endif

SERVICES := ws-edge ocpp-core kafka-bridge redis-registry
TOOLS    := kafka-dev cp-sim ocppctl

# ---------------------------------------------------------------------------
# common/: one static library that every stage links
COMMON_SRC := $(sort $(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
COMMON_LIB := $(BUILD)/libcommon.a

$(O)/common/%.o: common/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/gen $(call pkg_cflags,$(COMMON_PKGS)) -c $< -o $@

# version.h: the version and git revision for ocppgw_build_info, rewritten only when they change
VERSION  := 0.6.0-dev
REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define OCPPGW_VERSION "%s"\n#define OCPPGW_REVISION "%s"\n' '$(VERSION)' '$(REVISION)' >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(O)/common/service.o: $(BUILD)/gen/version.h
FORCE:

$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

COMMON_LDLIBS := $(call pkg_libs,$(COMMON_PKGS)) $(LDLIBS_BASE)

# ---------------------------------------------------------------------------
# services/<stage>/: main.c (wiring) + modules. Modules are also linked into the stage's tests.
define stage_rules
# $(1) = directory under services/ or tools/, $(2) = binary name, $(3) = pkg-config packages
$(2)_SRC    := $$(sort $$(wildcard $(1)/*.c))
$(2)_OBJ    := $$($(2)_SRC:%.c=$(O)/%.o)
$(2)_MODOBJ := $$(filter-out $(O)/$(1)/main.o,$$($(2)_OBJ))
$(2)_CFLAGS := $$(call pkg_cflags,$(3))
$(2)_LDLIBS := $$(call pkg_libs,$(3))

$(O)/$(1)/%.o: $(1)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -I$(1) $$($(2)_CFLAGS) $$(call pkg_cflags,$(COMMON_PKGS)) -c $$< -o $$@

$(BIN)/$(2): $$($(2)_OBJ) $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(2)_OBJ) $(COMMON_LIB) $$($(2)_LDLIBS) $(COMMON_LDLIBS)

# unit tests of this stage: tests/$(1)/test_*.c, each one binary
$(2)_TEST_SRC := $$(sort $$(wildcard tests/$(1)/test_*.c))
$(2)_TEST_BIN := $$($(2)_TEST_SRC:tests/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/$(1)/%: tests/$(1)/%.c $$($(2)_MODOBJ) $(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -I$(1) $$($(2)_CFLAGS) $$(call pkg_cflags,$(COMMON_PKGS) $(TEST_PKGS)) \
	    $$(LDFLAGS) -o $$@ $$< $$($(2)_MODOBJ) $(COMMON_LIB) $$($(2)_LDLIBS) $(COMMON_LDLIBS) \
	    $$(call pkg_libs,$(TEST_PKGS))

TEST_BINS += $$($(2)_TEST_BIN)
endef

TEST_BINS :=
$(eval $(call stage_rules,services/ws-edge,ws-edge,$(EDGE_PKGS)))
$(eval $(call stage_rules,services/ocpp-core,ocpp-core,$(CORE_PKGS)))
$(eval $(call stage_rules,services/kafka-bridge,kafka-bridge,$(BRIDGE_PKGS)))
$(eval $(call stage_rules,services/redis-registry,redis-registry,$(REGISTRY_PKGS)))
$(eval $(call stage_rules,tools/kafka-dev,kafka-dev,$(KAFKADEV_PKGS)))
$(eval $(call stage_rules,tools/cp-sim,cp-sim,$(CPSIM_PKGS)))
$(eval $(call stage_rules,tools/ocppctl,ocppctl,$(OCPPCTL_PKGS)))

# unit tests of common/
COMMON_TEST_SRC := $(sort $(wildcard tests/common/test_*.c))
COMMON_TEST_BIN := $(COMMON_TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_BINS += $(COMMON_TEST_BIN)

# jansson: test_json_escape parses what the escaper writes with a real JSON parser
$(BUILD)/tests/common/%: tests/common/%.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(COMMON_PKGS) $(TEST_PKGS) jansson) $(LDFLAGS) -o $@ $< \
	    $(COMMON_LIB) $(COMMON_LDLIBS) $(call pkg_libs,$(TEST_PKGS) jansson)

BINARIES := $(SERVICES:%=$(BIN)/%) $(TOOLS:%=$(BIN)/%)

# test doubles (tests/tools/<name>/ without test_*.c): the peers integration tests and benchmarks
# run instead of a real stage or CSMS. Built by `make tests` and `make bench` into
# $(BUILD)/tests/bin, never by `make all` (so never into an image).
TEST_TOOL_DIR := $(BUILD)/tests/bin
TEST_TOOLS    := $(TEST_TOOL_DIR)/envelope-tool $(TEST_TOOL_DIR)/ws_echo

$(O)/tests/tools/%.o: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TOOL_INC) $(call pkg_cflags,$(COMMON_PKGS)) -c $< -o $@

# envelope-tool: one stage's peers over envelopes (common/ only)
ENVTOOL_OBJ := $(patsubst %.c,$(O)/%.o,$(sort $(wildcard tests/tools/envelope-tool/*.c)))
$(TEST_TOOL_DIR)/envelope-tool: $(ENVTOOL_OBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ENVTOOL_OBJ) $(COMMON_LIB) $(COMMON_LDLIBS)

# ws_echo: a trivial epoll WebSocket server / CSMS, on cp-sim's frame codec
$(O)/tests/tools/ws_echo/%.o: TOOL_INC := -Itools/cp-sim
$(TEST_TOOL_DIR)/ws_echo: $(O)/tests/tools/ws_echo/ws_echo.o $(O)/tools/cp-sim/ws_frame.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,libcrypto)

# ---------------------------------------------------------------------------
.PHONY: FORCE all deps run demo tests check unit integration lint code code-check fuzz fuzz-run bench bench-e2e bench-downlink clean ha

all: $(BINARIES)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

tests: $(BINARIES) $(TEST_BINS) $(TEST_TOOLS)

check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory code-check
	@$(MAKE) --no-print-directory lint
	@BUILD=$(BUILD) scripts/run-tests.sh

unit: tests
	@BUILD=$(BUILD) scripts/run-tests.sh --unit

integration: tests
	@BUILD=$(BUILD) scripts/run-tests.sh --integration

lint:
	@scripts/lint.sh

# the HA scenarios at full size (tests/ha/, docs/ha.md); not part of `make check` yet
ha: all
	@BUILD=$(BUILD) tests/ha/run.sh --full

# generated sources: proto/ is the data, scripts/gen_*.py the generators
GENERATED := common/envelope.h common/envelope.c services/ocpp-core/ocpp_schema_data.c \
             tests/services/ocpp-core/ocpp_examples.json
code:
	python3 scripts/gen_envelope.py proto/envelope.json common/envelope.h common/envelope.c
	python3 scripts/gen_ocpp_schema.py proto/ocpp services/ocpp-core/ocpp_schema_data.c \
	    tests/services/ocpp-core/ocpp_examples.json
	clang-format -i services/ocpp-core/ocpp_schema_data.c
	@$(MAKE) --no-print-directory all
	scripts/gen-config-doc.sh $(BIN) docs/configuration.md

code-check:
	@BUILD=$(BUILD) scripts/code-check.sh

# libFuzzer drivers: fuzz/fuzz_<stage>_<what>.c, built with clang against common/ and the pure
# modules of its stage: every .c of the stage's directory but main.c and the I/O shells *_io.c
# (docs/engines.md). <stage>: common, edge, core, bridge, registry, cpsim.
FUZZ_CC   ?= clang
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I. -Icommon \
              -I$(BUILD)/gen
FUZZ_COMMON_SRC := $(filter-out common/admin_http.c,$(COMMON_SRC))
fuzz_pure = $(if $(1),$(sort $(filter-out $(1)/main.c %_io.c,$(wildcard $(1)/*.c))))

define fuzz_stage
# $(1) = prefix, $(2) = directory of its pure modules ("" for common/ only), $(3) = packages
$(BUILD)/fuzz/fuzz_$(1)_%: fuzz/fuzz_$(1)_%.c $(FUZZ_COMMON_SRC) $$(call fuzz_pure,$(2)) $(BUILD)/gen/version.h
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) $(if $(2),-I$(2)) $$(call pkg_cflags,$(COMMON_PKGS) $(3)) -o $$@ $$< \
	    $$(FUZZ_COMMON_SRC) $$(call fuzz_pure,$(2)) $$(call pkg_libs,$(COMMON_PKGS) $(3)) $$(LDLIBS_BASE)
endef
$(eval $(call fuzz_stage,common,,))
$(eval $(call fuzz_stage,edge,services/ws-edge,$(EDGE_PKGS)))
$(eval $(call fuzz_stage,core,services/ocpp-core,$(CORE_PKGS)))
$(eval $(call fuzz_stage,bridge,services/kafka-bridge,$(BRIDGE_PKGS)))
$(eval $(call fuzz_stage,registry,services/redis-registry,$(REGISTRY_PKGS)))
$(eval $(call fuzz_stage,cpsim,tools/cp-sim,$(CPSIM_PKGS)))

FUZZ_PICK := $(if $(FUZZ),$(BUILD)/fuzz/fuzz_$(FUZZ),$(FUZZ_BIN))
fuzz: $(FUZZ_PICK)
fuzz-run: fuzz
	@scripts/fuzz-run.sh $(FUZZ_PICK)

# benchmark tools (bench/), built only by `make bench` (which also needs the test doubles)
BENCH_BIN := $(BUILD)/bench/loadgen $(BUILD)/bench/lws_echo $(BUILD)/bench/ocpp_core_bench \
             $(BUILD)/bench/edge_auth_bench
$(BUILD)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<
$(BUILD)/bench/lws_echo: bench/lws_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(EDGE_PKGS)) -o $@ $< $(call pkg_libs,$(EDGE_PKGS))

# ocpp-core's per-message work, linked against its modules like its unit tests
$(BUILD)/bench/ocpp_core_bench: bench/ocpp_core_bench.c $(ocpp-core_MODOBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iservices/ocpp-core $(ocpp-core_CFLAGS) $(call pkg_cflags,$(COMMON_PKGS)) \
	    $(LDFLAGS) -o $@ $< $(ocpp-core_MODOBJ) $(COMMON_LIB) $(ocpp-core_LDLIBS) $(COMMON_LDLIBS)

# ws-edge's password checks (PBKDF2, remembered checks), linked against its modules
$(BUILD)/bench/edge_auth_bench: bench/edge_auth_bench.c $(ws-edge_MODOBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iservices/ws-edge $(ws-edge_CFLAGS) $(call pkg_cflags,$(COMMON_PKGS)) \
	    $(LDFLAGS) -o $@ $< $(ws-edge_MODOBJ) $(COMMON_LIB) $(ws-edge_LDLIBS) $(COMMON_LDLIBS)

bench: all $(BENCH_BIN) $(TEST_TOOLS)
	@BUILD=$(BUILD) scripts/bench.sh

# the end-to-end benchmark alone (bench/bench_e2e.sh; make bench runs it first)
bench-e2e: all $(BENCH_BIN) $(TEST_TOOLS)
	@BUILD=$(BUILD) BENCH_ONLY=bench_e2e scripts/bench.sh

# the downlink benchmark alone (bench/bench_downlink.sh; make bench runs it too)
bench-downlink: all $(BENCH_BIN) $(TEST_TOOLS)
	@BUILD=$(BUILD) BENCH_ONLY=bench_downlink scripts/bench.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
