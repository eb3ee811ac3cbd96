# Aerolith — build, test, benchmark and demo. Needs only Go (see README).
GO        ?= go
BIN       ?= bin
PKGS      ?= ./...
TEST_TIMEOUT ?= 28m
BENCH_TOTAL  ?= 50000

.PHONY: all build test test-short bench bench-micro demo lint generate clean

all: build

build:
	$(GO) build -o $(BIN)/aerolith ./cmd/aerolith

## test: everything CI runs — vet, gofmt check, race-enabled unit, cluster,
## process-level and linearizability suites, fuzz seed corpora, the
## patched raft-wal module and the patched raft in third_party/ (upstream's
## whole suite, less the timing-flaky tests quarantined by name in
## third_party/raft/aerolith_quarantine_test.go, plus the patch tests; the
## download is the pristine source TestRebaseReproducesTree rebuilds from).
## -count=1:
## the process suites build the binary themselves, which go test's cache
## cannot see, so results are never reused.
test: lint
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	cd third_party/raft-wal && $(GO) test -race -count=1 -timeout 10m ./...
	cd third_party/raft && $(GO) mod download github.com/hashicorp/raft@$$(cat patches/UPSTREAM) && $(GO) test -race -count=1 -timeout 10m ./...

test-short:
	$(GO) test -short -timeout 10m $(PKGS)

## bench: micro-benchmarks, then the 3-process cluster workload beside the
## etcd anchor (../shared/bench/etcd-anchor) in the same run.
bench: bench-micro
	$(GO) run ./tests/bench -total $(BENCH_TOTAL)
	$(GO) run ./tests/billingbench

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./store/... ./agent/... ./billing/...

## demo: the billing service and a 3-node cluster enrolled with it, on loopback (Ctrl-C stops both).
demo: build
	$(BIN)/aerolith up

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet $(PKGS)

## generate: regenerate generated files; CI fails when this leaves a diff.
generate:
	$(GO) generate ./...

clean:
	rm -rf $(BIN)

## rebase-raft: re-vendor hashicorp/raft at UPSTREAM (default: the version in
## third_party/raft/patches/UPSTREAM) into third_party/raft and apply
## third_party/raft/patches/*.patch; see third_party/raft/PATCHES.md.
.PHONY: rebase-raft
rebase-raft:
	third_party/raft/rebase.sh $(UPSTREAM)

## chromium: headless Chromium from Debian's chromium package for the
## browser tests, unpacked without root into .tools/chromium by
## scripts/chromium.sh (cached: skipped when present). `make test` builds
## it first and hands its path to the tests as AEROLITH_CHROMIUM; tests
## run without it skip, naming this target.
CHROMIUM := $(CURDIR)/.tools/chromium/chromium
.PHONY: chromium
chromium:
	@scripts/chromium.sh >/dev/null
test: chromium
test: export AEROLITH_CHROMIUM = $(CHROMIUM)
