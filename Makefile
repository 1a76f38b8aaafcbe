# kube-multipath Makefile. `make help` lists the targets.

# Tool pins. Each builds once into the per-user cache (~/.cache/kube-multipath) and is linked from bin/.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v4.3.2

CONTROLLER_GEN ?= $(CURDIR)/bin/controller-gen
KUSTOMIZE ?= $(CURDIR)/bin/kustomize
HELM ?= $(CURDIR)/bin/helm
# golangci-lint and the Kube API Linter compiled into it are pinned in hack/tools/golangci-lint/go.mod.
GOLANGCI_LINT ?= $(CURDIR)/bin/golangci-lint
GO_TEST_FLAGS ?=
IMG_MANAGER ?= kube-multipath-manager:latest
IMG_AGENT ?= kube-multipath-agent:latest

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook manifests from the markers, and the Helm chart's copies of them.
	$(CONTROLLER_GEN) rbac:roleName=kube-multipath-manager crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/helmchart

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods from the markers.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^hack/tools/')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml: the standard linters, importas, the Kube API Linter on api/).
	$(GOLANGCI_LINT) run ./...
	@# make e2e-cluster's files (tags e2e,cluster) in a second pass; there, unused would report what
	@# only make e2e's files (e2e,!cluster) use.
	$(GOLANGCI_LINT) run --build-tags e2e,cluster --disable unused ./test/e2e/

.PHONY: verify
verify: ## Fail when generated files drift from the markers, or gofmt, go vet or golangci-lint complain.
	hack/verify.sh

.PHONY: test
test: manifests generate fmt vet envtest multipath-tools helm ## Run every test, with the race detector, on a real control plane (builds it the first time).
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" go test -race ./... $(GO_TEST_FLAGS)

.PHONY: ci-fresh
ci-fresh: ## Run CI as a fresh machine would: a clean clone, /etc without multipath*, CI=true (needs root).
	hack/ci-fresh.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build every binary into bin/.
	go build -o bin/ ./cmd/...

.PHONY: run
# Built, then exec'd rather than `go run`: go run exits 1 after a Ctrl-C even when the program
# stopped cleanly, and make would report an error.
run: manifests generate fmt vet ## Run the operator: against $KUBECONFIG if set, else on a local control plane with the samples (Ctrl-C stops it all).
	@if [ -n "$$KUBECONFIG" ]; then \
	  go build -o bin/manager ./cmd/manager && exec bin/manager --leader-elect=false --namespace=$${NAMESPACE:-kube-multipath-system}; \
	else \
	  assets="$$(hack/envtest.sh)" && go build -o bin/localrun ./hack/localrun && KUBEBUILDER_ASSETS="$$assets" exec bin/localrun; \
	fi

SCALE_ARGS ?=
.PHONY: bench
bench: envtest ## Run the Go benchmarks, then the short scale harness (10 and 100 nodes, 1,000 LUNs; under 5 minutes).
	go test ./... -run '^$$' -bench . -benchmem -benchtime 3x
	go run ./test/scale -nodes 10,100 -luns 1000 -pvs 1000 -steady 20s -out bin/scale/bench.json $(SCALE_ARGS)

.PHONY: scale
scale: envtest ## Run the scale harness (1,000 LUNs on 10/100/1,000 nodes; 10,000 LUNs on 10/100, the manager's memory at 1,000) and the long fault drills; see docs/performance.md.
	go run ./test/scale -nodes 10,100,1000 -luns 1000 -pvs 1000 -steady 30s -out bin/scale/results-1000luns.json $(SCALE_ARGS)
	go run ./test/scale -nodes 10,100 -memory-nodes 1000 -luns 10000 -pvs 10000 -steady 30s -out bin/scale/results-10000luns.json $(SCALE_ARGS)
	KUBE_MULTIPATH_DRILL_NODES=100 go test ./test/drills/ -count=1 -timeout 40m

E2E_FLAGS ?=
.PHONY: e2e
e2e: envtest e2e-image ## Run the real-node end-to-end test: the agent on a QEMU guest with a real kernel, dm-multipath and multipathd (docs/e2e.md).
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" KUBE_MULTIPATH_E2E_IMAGE="$$(hack/e2e/image.sh)" \
	  go test -tags e2e ./test/e2e/ -count=1 -v -timeout 20m $(E2E_FLAGS)

.PHONY: e2e-cluster
e2e-cluster: envtest e2e-image ## Run config/default on a real kubelet, containerd and runc in the e2e guest, control plane on the host (docs/e2e-cluster.md; ~20 min cold build of the kubelet & co., then ~10 min).
	KUBEBUILDER_ASSETS="$$(hack/envtest.sh)" KUBE_MULTIPATH_E2E_IMAGE="$$(hack/e2e/image.sh)" KUBE_NODE_ASSETS="$$(hack/e2e-cluster/k8s.sh)" \
	  go test -tags e2e,cluster ./test/e2e/ -run TestCluster -count=1 -v -timeout 60m $(E2E_FLAGS)

.PHONY: e2e-image
e2e-image: ## Build the e2e guest image (cached under ~/.cache/kube-multipath/e2e) and install its host tools.
	@hack/e2e/deps.sh
	@hack/e2e/image.sh >/dev/null

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## Run every fuzzer for FUZZTIME each (default 60s).
	@for f in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' internal/multipathconf/*_test.go | cut -d' ' -f2); do \
	  echo "== $$f"; go test ./internal/multipathconf/ -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime=5s || exit 1; \
	done

VERSION ?= v0.0.0-dev
.PHONY: release
release: manifests generate kustomize ## Build the release artifacts into bin/release/$(VERSION): install.yaml (images pinned), kubectl-multipath archives per platform, checksums.txt, the krew manifest.
	KUSTOMIZE=$(KUSTOMIZE) hack/release.sh $(VERSION)

IMG_TAG ?= latest
.PHONY: images
images: ## Build the manager and agent images without a container engine (bin/images: OCI layout, docker archives; docs/e2e-cluster.md).
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o bin/images/bin/ ./cmd/manager ./cmd/agent
	go run ./hack/images -bin bin/images/bin -out bin/images -tag $(IMG_TAG)

.PHONY: docker-build
docker-build: ## Build the manager, agent and plugin images (needs a container engine).
	docker build --target manager -t $(IMG_MANAGER) .
	docker build --target agent -t $(IMG_AGENT) .

##@ Tools

.PHONY: controller-gen
controller-gen: ## Build controller-gen (pinned) into the cache, link it from bin/.
	@hack/go-install-tool.sh controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen $(CONTROLLER_TOOLS_VERSION)

.PHONY: kustomize
kustomize: ## Build kustomize (pinned) into the cache, link it from bin/.
	@hack/go-install-tool.sh kustomize sigs.k8s.io/kustomize/kustomize/v5 $(KUSTOMIZE_VERSION)

.PHONY: helm
helm: ## Build the helm CLI (pinned) into the cache, link it from bin/ (test/deploy lints and templates the chart with it).
	@hack/go-install-tool.sh helm helm.sh/helm/v4/cmd/helm $(HELM_VERSION)

.PHONY: golangci-lint
golangci-lint: ## Build golangci-lint with the Kube API Linter (pinned in hack/tools/golangci-lint) into the cache, link it from bin/.
	@hack/golangci-lint.sh >/dev/null

.PHONY: multipath-tools
multipath-tools: ## Build every multipath-tools version of the test matrix (hack/multipath-tools/src) into the cache; needs hack/multipath-tools-deps.sh.
	@hack/multipath-tools.sh >/dev/null

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from Go modules (pinned in hack/tools) into the cache.
	@hack/envtest.sh >/dev/null
