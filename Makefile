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
test: lint tools/terraform terraform-fmt docs-terraform-check test-stacks check-modules-fmt
	TF_ACC=1 TF_ACC_TERRAFORM_PATH=$(TERRAFORM) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	cd third_party/raft-wal && $(GO) test -race -count=1 -timeout 10m ./...
	cd third_party/raft && $(GO) mod download github.com/hashicorp/raft@$$(cat patches/UPSTREAM) && $(GO) test -race -count=1 -timeout 10m ./...
	cd operator && KUBEBUILDER_ASSETS=$(ENVTEST_DIR) AEROLITH_HELM=$(HELM_DIR)/helm $(GO) test -race -count=1 -timeout $(OPERATOR_TEST_TIMEOUT) ./...

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
	cd operator && $(GO) vet ./...

## generate: regenerate generated files; CI fails when this leaves a diff.
generate: generate-stacks
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
## ---- Kubernetes operator (envtest) -------------------------------------
## The operator (operator/, with its command in operator/cmd/aerolith-operator)
## is a Go module of its own: its Kubernetes libraries would otherwise raise
## the main module's storage dependencies (bbolt, client_golang) through MVS.
## It uses the main module through `replace ... => ../`.
## envtest-tools: kube-apiserver v1.37.2, etcd v3.7.0 and controller-gen,
## built from the Go module proxy by tools/envtest (its own module) into the
## git-ignored ENVTEST_DIR; a binary already there is kept (the folder name
## carries the versions). The first build takes several minutes.
ENVTEST_DIR    ?= $(CURDIR)/.tools/envtest/k8s-1.37.2-etcd-3.7.0
CONTROLLER_GEN ?= $(ENVTEST_DIR)/controller-gen
OPERATOR_TEST_TIMEOUT ?= 15m

HELM_DIR ?= $(CURDIR)/.tools/helm-v3.22.1

.PHONY: envtest-tools helm-tool test-operator generate-operator demo-kubernetes
envtest-tools: helm-tool
	tools/envtest/build.sh $(ENVTEST_DIR)

## helm-tool: the helm CLI v3.22.1 from the module proxy (the operator suite
## renders modules/kubernetes/chart with it); kept when present.
helm-tool:
	@[ -x $(HELM_DIR)/helm ] || GOBIN=$(HELM_DIR) $(GO) install helm.sh/helm/v3/cmd/helm@v3.22.1

## test-operator: the operator suite alone, against the real API server.
test-operator: envtest-tools
	cd operator && KUBEBUILDER_ASSETS=$(ENVTEST_DIR) AEROLITH_HELM=$(HELM_DIR)/helm $(GO) test -race -count=1 -timeout $(OPERATOR_TEST_TIMEOUT) ./...

## make test runs every suite with the control plane in KUBEBUILDER_ASSETS.
test: envtest-tools
test: export KUBEBUILDER_ASSETS = $(ENVTEST_DIR)
test: export AEROLITH_HELM = $(HELM_DIR)/helm

## generate-operator: deepcopy, CRD and RBAC from operator/api/v1 and the
## controller's kubebuilder markers (checked in; CI fails on a diff).
generate: generate-operator
generate-operator:
	tools/envtest/build.sh $(ENVTEST_DIR) controller-gen
	cd operator && $(CONTROLLER_GEN) object paths=./api/...
	cd operator && $(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=../modules/kubernetes/crd
	cd operator && $(CONTROLLER_GEN) rbac:roleName=aerolith-operator paths=./controller/... output:rbac:artifacts:config=../modules/kubernetes/rbac
	cp modules/kubernetes/crd/aerolithdb.io_aerolithclusters.yaml modules/kubernetes/chart/aerolith-operator/crds/
	cp modules/kubernetes/rbac/role.yaml modules/kubernetes/chart/aerolith-operator/files/role.yaml

## demo-kubernetes: a cluster created from examples/kubernetes/cluster.yaml
## on a real API server, pods played by local agent processes, scaled
## 3 → 5 → 3 (see examples/kubernetes/README.md).
## The demo is built in the operator module and run from here (it reads
## modules/kubernetes/crd relative to the repository root).
demo-kubernetes: envtest-tools build
	$(GO) -C operator build -o $(CURDIR)/$(BIN)/aerolith-k8s-demo ./demo
	KUBEBUILDER_ASSETS=$(ENVTEST_DIR) $(BIN)/aerolith-k8s-demo -binary $(BIN)/aerolith -file examples/kubernetes/cluster.yaml

## build-operator: bin/aerolith-operator, built in the operator module.
.PHONY: build-operator
build-operator:
	$(GO) -C operator build -o $(CURDIR)/$(BIN)/aerolith-operator ./cmd/aerolith-operator
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


## ---- Pulumi (issue 16) ----
## tools/pulumi: the real Pulumi CLI, built from the module proxy by
## tools/pulumi/build.sh at the version tools/pulumi/go.mod pins, into
## .tools/ (git-ignored), rebuilt only when the binary there is not that
## version; beside it the language hosts pulumi-language-nodejs and
## pulumi-language-go (tools/pulumi-langhost/build.sh, the version its
## go.mod pins: see its tools.go), so `pulumi up` of a program directory
## works. The stacks/ tests (their own module) get it through PULUMI_CLI
## and skip, naming this target, without it.
PULUMI_VERSION ?= 3.277.0
PULUMI := $(TOOLS)/pulumi-$(PULUMI_VERSION)/bin/pulumi
PULUMI_LANGHOST_VERSION := $(shell sed -n 's|^require github.com/pulumi/pulumi/sdk/v3 v||p' tools/pulumi-langhost/go.mod)

.PHONY: tools/pulumi test-stacks generate-stacks check-generated-stacks check-sdk-python check-sdk-nodejs tools/npm demo-pulumi
tools/pulumi:
	@if [ -x $(PULUMI) ] && $(PULUMI) version 2>/dev/null | grep -qx 'v$(PULUMI_VERSION)'; then :; else \
		echo "building pulumi v$(PULUMI_VERSION) into $(dir $(PULUMI)) (about 5 minutes, once)"; \
		tools/pulumi/build.sh $(dir $(PULUMI)) $(PULUMI_VERSION); \
	fi
	@if [ -x $(dir $(PULUMI))pulumi-language-nodejs ] && [ -x $(dir $(PULUMI))pulumi-language-go ] && \
		grep -qx 'v$(PULUMI_LANGHOST_VERSION)' $(dir $(PULUMI)).langhost-version 2>/dev/null; then :; else \
		echo "building the Pulumi language hosts v$(PULUMI_LANGHOST_VERSION) into $(dir $(PULUMI)) (about 2 minutes, once)"; \
		tools/pulumi-langhost/build.sh $(dir $(PULUMI)) $(PULUMI_LANGHOST_VERSION); \
	fi

## test-stacks: the Pulumi provider, SDKs and programs (module stacks/):
## a real pulumi up/refresh/destroy with the built CLI (an inline Go
## program, and the program directories examples/pulumi/local (TypeScript,
## through the Node.js language host), local-go and aws (TypeScript, on
## the cloud simulator)), mocks for the cloud programs.
## make test runs it.
test-stacks: tools/pulumi check-generated-stacks check-sdk-python check-sdk-nodejs
	cd stacks && $(GO) vet ./... && PULUMI_CLI=$(PULUMI) AEROLITH_NPM_DIR=$(NPM_DIR) $(GO) test -count=1 -timeout 25m ./...

## generate-stacks: the provider's Pulumi schema and the Go, TypeScript
## and Python SDKs generated from it (part of make generate).
generate-stacks:
	cd stacks && $(GO) run ./provider/cmd/generate -out .

## check-generated-stacks: fails when the checked-in schema or SDKs are not
## what generate-stacks makes of the provider now.
check-generated-stacks: generate-stacks
	@git diff --exit-code --stat -- stacks/provider/schema.json stacks/sdk || { echo "stacks/: generated files are stale: run make generate-stacks and commit"; exit 1; }
	@u=$$(git ls-files --others --exclude-standard -- stacks/sdk); if [ -n "$$u" ]; then echo "stacks/sdk: generated files not committed:"; echo "$$u"; exit 1; fi
## check-sdk-python: every file of the generated Python SDK compiles
## (byte-compiled in memory: pulumi's Python packages cannot be installed
## here, so nothing is imported).
check-sdk-python:
	@command -v python3 >/dev/null || { echo "check-sdk-python: no python3 on this machine; the Python SDK is not byte-compiled"; exit 0; }; python3 -c 'import sys,pathlib; fs=sorted(pathlib.Path(sys.argv[1]).rglob("*.py")); [compile(p.read_text(), str(p), "exec") for p in fs]; print(len(fs), "python files of the sdk compile")' stacks/sdk/python

## tools/npm: the npm packages of tools/npm/package-lock.json (exact
## versions: @pulumi/pulumi, typescript, ts-node, @types/node) installed
## with `npm ci` into .tools/npm, again only when the lock changes
## (.tools/npm/installed.lock is the lock it was installed from). Needs
## node and npm, and the npm registry the first time.
NPM_DIR := $(TOOLS)/npm
tools/npm:
	@if [ -x $(NPM_DIR)/node_modules/.bin/tsc ] && cmp -s tools/npm/package-lock.json $(NPM_DIR)/installed.lock; then :; else \
		command -v npm >/dev/null || { echo "tools/npm: needs node and npm (Node.js 20) on PATH"; exit 1; }; \
		echo "installing tools/npm/package-lock.json into $(NPM_DIR) (npm ci, about a minute, once)"; \
		mkdir -p $(NPM_DIR) && rm -f $(NPM_DIR)/installed.lock && \
		cp tools/npm/package.json tools/npm/package-lock.json $(NPM_DIR)/ && \
		(cd $(NPM_DIR) && npm ci --ignore-scripts --no-audit --no-fund) && \
		cp tools/npm/package-lock.json $(NPM_DIR)/installed.lock; \
	fi

## check-sdk-nodejs (part of make test): tsc compiles the generated
## TypeScript SDK (a type error fails it; scripts/pulumi-nodejs-modules.sh)
## into the node_modules of every TypeScript example and type-checks each
## example against it.
PULUMI_TS_EXAMPLES := local aws gcp azure
check-sdk-nodejs: tools/npm
	NPM_DIR=$(NPM_DIR) scripts/pulumi-nodejs-modules.sh $(addprefix examples/pulumi/,$(PULUMI_TS_EXAMPLES))
	@for e in $(PULUMI_TS_EXAMPLES); do echo "tsc -p examples/pulumi/$$e/tsconfig.json"; \
		$(NPM_DIR)/node_modules/.bin/tsc -p examples/pulumi/$$e/tsconfig.json || exit 1; done

## demo-pulumi: billing on loopback, then a real `pulumi up` of
## examples/pulumi/$(EXAMPLE) (TypeScript; EXAMPLE=local, the default: a
## tenant, a 3-node local cluster, a key, a collection, an index;
## EXAMPLE=aws, gcp or azure: a tenant, a managed 3-node cluster, a key, a
## collection on the cloud simulator) with the CLI and language host from
## .tools and pulumi-resource-aerolith built here; prints the outputs and
## writes a document with the key, then `pulumi destroy` (Ctrl-C anywhere
## also destroys and cleans up). KEEP=1 keeps it running until Enter.
demo-pulumi: build tools/pulumi check-sdk-nodejs
	cd stacks && $(GO) build -o $(CURDIR)/$(BIN)/pulumi-resource-aerolith ./provider/cmd/pulumi-resource-aerolith
	EXAMPLE=$(EXAMPLE) PULUMI=$(PULUMI) BIN=$(CURDIR)/$(BIN) scripts/demo-pulumi.sh

## check-modules-fmt: the HCL modules and their examples as the real
## terraform fmt (the one tools/terraform builds) leaves them.
.PHONY: check-modules-fmt
check-modules-fmt: tools/terraform
	$(TERRAFORM) fmt -check -recursive modules
	$(TERRAFORM) fmt -check -recursive examples/terraform-modules
## ---- end Pulumi ----
## ---- tflint (issue 16) ----
## tools/tflint: tflint v0.64.0 and the official rulesets aws v0.48.0,
## google v0.39.0 and azurerm v0.32.0, built from the Go module proxy by
## tools/tflint/build.sh, each in a small module of its own there that
## pins its exact version (tools/tflint/*/go.mod), into TFLINT_DIR
## (git-ignored .tools/); each binary is rebuilt only when missing or built
## from another version (go version -m). The terraform ruleset is bundled
## in tflint. The first build takes several minutes.
TFLINT_DIR      := $(TOOLS)/tflint-0.64.0
TFLINT          := $(TFLINT_DIR)/tflint
# Plugins from this folder only (no --init, no download); no update check.
TFLINT_ENV      := TFLINT_PLUGIN_DIR=$(TFLINT_DIR)/plugins TFLINT_DISABLE_VERSION_CHECK=1

.PHONY: tools/tflint tflint-modules
tools/tflint:
	@tools/tflint/build.sh $(TFLINT_DIR)

## tflint-modules (part of make test): every HCL module and the example
## that calls it, linted with the module's .tflint.hcl (the recommended
## terraform preset and the cloud's ruleset, deep checking off); any issue
## fails. modules/moduledoc's TestTFLint and TestTFLintExamples (given
## the binary as AEROLITH_TFLINT) show the rulesets catch a wrong instance
## type, machine type and VM size in a module and in an example.
tflint-modules: tools/tflint
	@for c in aws gcp azure; do for d in modules/$$c-cluster examples/terraform-modules/$$c; do \
		echo "tflint $$d"; \
		$(TFLINT_ENV) $(TFLINT) --chdir=$$d --config=$(CURDIR)/modules/$$c-cluster/.tflint.hcl --format=compact || exit 1; \
	done; done
test: tflint-modules
test: export AEROLITH_TFLINT = $(TFLINT)
## ---- end tflint ----
## ---- Container images ----
## images: the agent image (ghcr.io/aerolithdb/aerolith:<version>, the
## one aerolith binary; the operator's StatefulSet runs it) and the operator
## image, built without a container engine by tools/image (its own module):
## static binaries cross-compiled with the release stamped, assembled FROM
## scratch, written to IMAGES_DIR as an OCI layout per image (both
## platforms in one index: skopeo copy / crane push) and a docker-archive
## per image and platform (docker load -i). Names and version come from
## internal/release/release.mk, which the operator's defaults, the CRD,
## the chart and the kustomization follow too. Same commit, same digests.
include internal/release/release.mk
IMAGE_VERSION     ?= $(AEROLITH_VERSION)
IMAGE_REGISTRY    ?= $(AEROLITH_REGISTRY)
IMAGE_PLATFORMS   ?= linux/amd64,linux/arm64
IMAGE_REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGES_DIR        ?= $(CURDIR)/$(BIN)/images

.PHONY: images docker-images test-images
images:
	cd tools/image && $(GO) run . -root $(CURDIR) -out $(abspath $(IMAGES_DIR)) -go $(GO) \
		-version $(IMAGE_VERSION) -revision $(IMAGE_REVISION) -registry $(IMAGE_REGISTRY) \
		-created $(SOURCE_DATE_EPOCH) -platforms $(IMAGE_PLATFORMS)

## docker-images: the same two images with docker buildx and the Dockerfile
## (for machines with a Docker engine; not part of make test), loaded into
## the local engine; for both platforms pushed to the registry:
## make docker-images DOCKER_BUILD_FLAGS="--platform linux/amd64,linux/arm64 --push"
DOCKER_BUILD_FLAGS ?= --load
docker-images:
	for t in aerolith aerolith-operator; do \
		docker buildx build $(DOCKER_BUILD_FLAGS) --target $$t -t $(IMAGE_REGISTRY)/$$t:$(IMAGE_VERSION) \
			--build-arg VERSION=$(IMAGE_VERSION) --build-arg REVISION=$(IMAGE_REVISION) --build-arg REGISTRY=$(IMAGE_REGISTRY) \
			--build-arg CREATED=$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ) --build-arg SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) . || exit 1; \
	done

## test-images (part of make test): builds both images into a temp folder
## twice and checks the layout, configuration, files, that the binaries are
## static and run, and that the digests repeat; checks the Dockerfile
## against the same contract.
test-images:
	cd tools/image && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 30m ./...
test: test-images
lint: lint-images
.PHONY: lint-images
lint-images:
	cd tools/image && $(GO) vet ./...
## ---- end Container images ----
