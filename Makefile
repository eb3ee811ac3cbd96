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
test: lint tools/terraform terraform-fmt docs-terraform-check
	TF_ACC=1 TF_ACC_TERRAFORM_PATH=$(TERRAFORM) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
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

## ---- Terraform provider (issue 15) ----
## tools/terraform: the real Terraform CLI the provider's acceptance tests
## drive, built from source at TERRAFORM_VERSION into .tools/ (git-ignored,
## owned by this Makefile) and rebuilt only when the binary there is not
## that version. make test hands it to the tests through
## TF_ACC_TERRAFORM_PATH; the tests never download one.
TERRAFORM_VERSION ?= 1.5.7
TOOLS     := $(CURDIR)/.tools
TERRAFORM := $(TOOLS)/terraform-$(TERRAFORM_VERSION)/terraform

.PHONY: tools/terraform
tools/terraform:
	@if [ -x $(TERRAFORM) ] && $(TERRAFORM) version 2>/dev/null | head -1 | grep -qx 'Terraform v$(TERRAFORM_VERSION)'; then :; else \
		echo "building terraform v$(TERRAFORM_VERSION) into $(dir $(TERRAFORM)) (a few minutes, once)"; \
		GOBIN=$(dir $(TERRAFORM)) GOFLAGS=-buildvcs=false $(GO) install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION); \
	fi

## terraform-fmt: every example is terraform fmt clean.
.PHONY: terraform-fmt
terraform-fmt: tools/terraform
	TF_CLI_CONFIG_FILE=/dev/null $(TERRAFORM) fmt -check -recursive examples/terraform

## docs-terraform (part of make generate): provider/docs from the schema
## and examples/terraform/registry with tfplugindocs, built like terraform.
TFPLUGINDOCS_VERSION ?= 0.25.0
TFPLUGINDOCS := $(TOOLS)/tfplugindocs-$(TFPLUGINDOCS_VERSION)/tfplugindocs
.PHONY: docs-terraform tools/tfplugindocs
generate: docs-terraform
tools/tfplugindocs:
	@[ -x $(TFPLUGINDOCS) ] || GOBIN=$(dir $(TFPLUGINDOCS)) GOFLAGS=-buildvcs=false $(GO) install github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs@v$(TFPLUGINDOCS_VERSION)
docs-terraform: tools/terraform tools/tfplugindocs
	TERRAFORM=$(TERRAFORM) TFPLUGINDOCS=$(TFPLUGINDOCS) scripts/terraform-docs.sh

## docs-terraform-check (part of make test): the committed provider/docs
## are what the schema and examples generate.
.PHONY: docs-terraform-check
docs-terraform-check: docs-terraform
	@git diff --exit-code --stat -- provider/docs && [ -z "$$(git ls-files --others --exclude-standard provider/docs)" ] || \
		{ echo "provider/docs is stale: run make generate and commit it"; exit 1; }

## build-provider: bin/terraform-provider-aerolith.
.PHONY: build-provider demo-terraform
build-provider:
	$(GO) build -o $(BIN)/terraform-provider-aerolith ./cmd/terraform-provider-aerolith

## demo-terraform: billing on loopback, then terraform apply of
## examples/terraform/$(EXAMPLE) with the provider built here
## (dev_overrides): a tenant, a 3-node cluster (EXAMPLE=local: processes of
## this machine; EXAMPLE=aws, gcp or azure: on the cloud simulator), a
## key; prints the outputs and a curl that writes a document with the key.
EXAMPLE ?= local
demo-terraform: build build-provider tools/terraform
	EXAMPLE=$(EXAMPLE) TERRAFORM=$(TERRAFORM) scripts/demo-terraform.sh
## ---- end Terraform provider ----
