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
# with the iptables and ip tools they and the tests use, systemd run as PID 1 of its own namespaces by
# the systemd cgroup driver's tests). libseccomp2 is loaded at run time by the shim's stages that
# compile seccomp filters; the tests run pods with filters, so it is in both lists.
BUILD_PACKAGES := gcc libc6-dev zlib1g-dev libseccomp2
# To run pods on a network: Debian's CNI plugins (bridge, host-local, portmap, loopback...) and what they call.
RUN_PACKAGES := containernetworking-plugins iptables iproute2 libseccomp2
# The conf dir berthd reads (cni.confDir); make run writes a default network there only when it holds none.
CNI_CONF_DIR ?= /etc/cni/net.d
TEST_PACKAGES := docker-registry busybox-static apache2-utils containernetworking-plugins iptables iproute2 systemd

# make install / uninstall, as make conventions go: DESTDIR stages, PREFIX chooses /usr/local or /usr.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSTEMDUNITDIR ?= /etc/systemd/system
SYSCONFDIR ?= /etc

.PHONY: build run test unit e2e bench deps test-deps clean install uninstall

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
	# The bench is not run by the tests, but it must keep building with what it measures.
	$(DOTNET) build bench/Berth.Bench/Berth.Bench.csproj -c $(CONFIGURATION) --nologo -v quiet

e2e: test-deps build
	BERTH_BIN=$(OUT)/berthd BERTH_SHIM=$(OUT)/berth-shim $(DOTNET) test tests/e2e/Berth.Tests.E2e.csproj -c $(CONFIGURATION) --nologo

test: test-deps build unit e2e

# Benchmarks against containerd on this machine; prints a table, never part of make test.
bench: test-deps build
	./bench/run

# berthd, berth-shim and the SQLite library beside them, the systemd unit, and a commented default
# config (never over an operator's own). Needs `make build` first; run `systemctl daemon-reload` after.
install:
	@test -x $(OUT)/berthd -a -x $(OUT)/berth-shim || { echo "run make build first" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/berth/config.d
	install -m 0755 $(OUT)/berthd $(OUT)/berth-shim $(DESTDIR)$(BINDIR)/
	install -m 0644 $(OUT)/libe_sqlite3.so $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/berthd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/berthd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/berthd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/berth/config.json || install -m 0644 packaging/config.json $(DESTDIR)$(SYSCONFDIR)/berth/config.json

# Removes what install put there; the config stays if the operator changed it, /var/lib/berth always stays.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/berthd $(DESTDIR)$(BINDIR)/berth-shim $(DESTDIR)$(BINDIR)/libe_sqlite3.so
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/berthd.service
	if cmp -s packaging/config.json $(DESTDIR)$(SYSCONFDIR)/berth/config.json; then rm -f $(DESTDIR)$(SYSCONFDIR)/berth/config.json; fi
	-rmdir $(DESTDIR)$(SYSCONFDIR)/berth/config.d $(DESTDIR)$(SYSCONFDIR)/berth 2>/dev/null

clean:
	rm -rf $(OUT) */*/bin */*/obj
