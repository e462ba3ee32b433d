# Berth: the two commands a node operator needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := build
OUT := $(CURDIR)/out
CONFIGURATION ?= Release
DOTNET ?= dotnet
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

# Debian packages: to build (NativeAOT links with the system C toolchain), and to test
# (a real registry, busybox for test images, htpasswd for the registry's basic auth, the CNI plugins
# with the iptables and ip tools they and the tests use).
BUILD_PACKAGES := gcc libc6-dev zlib1g-dev
# To run pods on a network: Debian's CNI plugins (bridge, host-local, portmap, loopback...) and what they call.
RUN_PACKAGES := containernetworking-plugins iptables iproute2
# The conf dir berthd reads (cni.confDir); make run writes a default network there only when it holds none.
CNI_CONF_DIR ?= /etc/cni/net.d
TEST_PACKAGES := docker-registry busybox-static apache2-utils containernetworking-plugins iptables iproute2

.PHONY: build run test unit e2e bench deps test-deps clean

deps:
	@command -v $(DOTNET) >/dev/null || { echo "the .NET 10 SDK (dotnet) is required and is not on PATH" >&2; exit 1; }
	@./scripts/apt-ensure $(BUILD_PACKAGES)

test-deps: deps
	@./scripts/apt-ensure $(TEST_PACKAGES)

build: deps
	$(DOTNET) publish src/RuntimeService/Berth.RuntimeService.csproj -c $(CONFIGURATION) -o $(OUT) -p:DebugType=none --nologo -v quiet
	$(DOTNET) publish src/Shim/Berth.Shim.csproj -c $(CONFIGURATION) -o $(OUT) --nologo -v quiet
	$(DOTNET) publish src/Cli/Berth.Cli.csproj -c $(CONFIGURATION) -o $(OUT) -p:DebugType=none --nologo -v quiet
	@echo "built $(OUT)/berthd, $(OUT)/berth-shim and $(OUT)/berthctl"

run: build
	@./scripts/apt-ensure $(RUN_PACKAGES)
	@./scripts/cni-default $(CNI_CONF_DIR)
	exec $(OUT)/berthd

unit: deps
	$(DOTNET) test tests/unit/Berth.Tests.Unit.csproj -c $(CONFIGURATION) --nologo

e2e: test-deps build
	BERTH_BIN=$(OUT)/berthd BERTH_SHIM=$(OUT)/berth-shim $(DOTNET) test tests/e2e/Berth.Tests.E2e.csproj -c $(CONFIGURATION) --nologo

test: test-deps build unit e2e

# Benchmarks against containerd on this machine; prints a table, never part of make test.
bench: test-deps build
	./bench/run

clean:
	rm -rf $(OUT) */*/bin */*/obj
