# envgen's tasks. A newcomer needs two:
#   make example   build envgen and print the ci environment of examples/citoid
#   make test      lint and run every test
GO ?= go
BIN := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2
CUE_VERSION := v0.17.1
KUSTOMIZE_VERSION := v5.8.1

.PHONY: all build install image example test unit lint golden golden-check bench spike-report fuzz soak testbin testcluster testcluster-down clean

all: build

# Static (no cgo): envgen needs no C library, and a cgo build exports every
# Go symbol dynamically (kustomize links the plugin package), which cost
# each command 19 MiB of resident memory (make bench). Two binaries: envgen,
# and envgen-cluster beside it, which runs the commands that reach a
# cluster, a registry or BuildKit; envgen hands those over to it, so that
# the compile commands start without client-go, BuildKit's and a
# registry's clients (cmd/envgen/cli/cluster.go).
build:
	for cmd in envgen envgen-cluster; do \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X envgen.dev/envgen/internal/version.Commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" -o $(BIN)/$$cmd ./cmd/$$cmd || exit 1; \
	done

# envgen on the PATH: the same static binaries, into $(go env GOBIN) (or
# GOPATH/bin), or PREFIX/bin when PREFIX is given (make install PREFIX=/usr/local).
install: build
	@dest="$${PREFIX:+$$PREFIX/bin}"; dest="$${dest:-$$($(GO) env GOBIN)}"; dest="$${dest:-$$($(GO) env GOPATH)/bin}"; \
	install -d "$$dest" && install -m 0755 $(BIN)/envgen-cluster $(BIN)/envgen "$$dest/" && echo "installed $$dest/envgen and $$dest/envgen-cluster"

# envgen's container image, for CI agents and the gc CronJob, without Docker:
# the static binaries on an empty base as user 65532, reproducible (the same
# commit gives the same digest). IMAGE=registry.example.org/tools/envgen:v1
# pushes it (credentials from the Docker config); without IMAGE it is
# written as an OCI image layout to bin/envgen-image.
image: build
	$(GO) run ./hack/envgen-image --binary $(BIN)/envgen $(if $(IMAGE),--push $(IMAGE),--oci $(BIN)/envgen-image)

# The main job on the bundled example.
example: build
	$(BIN)/envgen build --env ci examples/citoid

test: lint unit

# The e2e tests need the control-plane binaries: built first (once, cached),
# so that their build does not count against the test timeout.
# The differential test runs on its own, verbose, so that its line with the
# number of generated cases and the seed is in the output.
unit:
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v /difftest)
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -count=1 -timeout 20m -v ./difftest/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# CI: regenerating the goldens must leave the tree as committed.
golden-check:
	ENVGEN_UPDATE=1 $(GO) test -count=1 ./pipeline ./cmd/envgen
	@git diff --exit-code --stat -- golden testscripts docs/reference examples || { echo "goldens are stale: run make golden and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- golden testscripts docs/reference examples)" || { git status --short -- golden testscripts docs/reference examples; echo "goldens are stale: run make golden and commit"; exit 1; }

# Rewrite every golden file (testscripts included), then review the diff.
golden:
	ENVGEN_UPDATE=1 $(GO) test -count=1 ./...
	git status --short golden testscripts docs/reference examples

# envgen build --env ci against the stock pipeline (cue export + kustomize
# build), both built from the Go module proxy into bin/;
# envgen generate dir/... over 150 and 600 services against kustomize build of every overlay;
# envgen run's overhead against kubectl create ns + apply -k + wait +
# logs + delete ns, on the e2e control plane (kwok);
# and envgen run against a plain container on the real node (the spike).
bench: build $(BIN)/cue $(BIN)/kustomize
	ENVGEN_BENCH_BIN=$(BIN) $(GO) test -run '^$$' -bench 'BuildCI|PipelineInProcess|Startup' -benchtime 20x -count 1 ./bench/
	ENVGEN_BENCH_BIN=$(BIN) $(GO) test -run '^$$' -bench 'Limits$$' -benchtime 3x -count 1 ./bench/
	ENVGEN_BENCH_BIN=$(BIN) $(GO) test -run '^$$' -bench LimitsGenerate -benchtime 1x -count 1 ./bench/
	ENVGEN_BENCH_BIN=$(BIN) $(GO) test -run '^$$' -bench ManyServices -benchtime 1x -count 1 -timeout 30m ./bench/
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -run '^$$' -bench RunOverhead -benchtime 10x -count 1 ./e2e/
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -run '^$$' -bench SpikeOverhead -benchtime 10x -count 1 ./e2e/realnode/
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -run '^$$' -bench ImageBuild -benchtime 3x -count 1 -timeout 30m ./e2e/realnode/

# The spike's question (a CI build as a Pod against a plain container, on
# the real test node), answered in docs/spike-report.md, and image builds
# in the cluster against BuildKit's own client, with the daemon's disk and
# the registry's build tags, in docs/image-build-report.md: rewrites both.
SPIKE_ROUNDS ?= 20
IMAGE_ROUNDS ?= 5
spike-report:
	ENVGEN_TESTBIN=$$(hack/testbin.sh) ENVGEN_SPIKE_REPORT=$(CURDIR)/docs/spike-report.md \
		$(GO) test -run '^$$' -bench SpikeOverhead -benchtime $(SPIKE_ROUNDS)x -count 1 ./e2e/realnode/
	ENVGEN_TESTBIN=$$(hack/testbin.sh) ENVGEN_IMAGE_REPORT=$(CURDIR)/docs/image-build-report.md \
		$(GO) test -run '^$$' -bench ImageBuild -benchtime $(IMAGE_ROUNDS)x -count 1 -timeout 30m ./e2e/realnode/

$(BIN)/cue:
	GOBIN=$(BIN) $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION)

$(BIN)/kustomize:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# 50 builds, 20 at once, through an API server that keeps going away
# (make test runs 12, 6 at once), a quarter of them deleted from outside
# while they run: every exit code right, no namespace left. Then on the
# real node, SOAK_REAL times over, what kwok cannot show: log volume (a
# million lines through the kubelet's rotation, 200,000 against the node's
# own file) and builds ended from outside (deleted, evicted, a frozen
# kubelet).
SOAK ?= 50/20
SOAK_REAL ?= 3
soak:
	ENVGEN_TESTBIN=$$(hack/testbin.sh) ENVGEN_SOAK=$(SOAK) $(GO) test -count=1 -v -run TestSoakWithAPIServerOutages ./e2e/
	ENVGEN_TESTBIN=$$(hack/testbin.sh) $(GO) test -count=$(SOAK_REAL) -timeout 60m -v \
		-run 'TestAMillionLinesThroughRotation|TestALongLogArrivesAsTheNodeHasIt|TestBuildPodDeletedFromOutside|TestEvictedByTheNode|TestFrozenKubeletEndsTheRun' ./e2e/realnode/

# Fuzz the compile path with an oracle (CUE text in → an InputError, or a
# tree kustomize builds into exactly envgen's objects; never a panic, a hang
# or a disagreement), then the differential test on 2000 more generated
# cases from a new seed each run (it prints the seed to replay).
# FUZZTIME=10m for a longer run; findings land in compiler/testdata/fuzz/
# and then run with every go test.
FUZZTIME ?= 10m
DIFF_CASES ?= 2000
fuzz:
	$(GO) test ./compiler -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME)
	ENVGEN_TESTBIN=$$(hack/testbin.sh) ENVGEN_DIFF_CASES=$(DIFF_CASES) ENVGEN_DIFF_SEED=$$(date +%s) \
		$(GO) test -count=1 -timeout 60m -v -run TestGeneratedCases ./difftest/

# The real control plane binaries for the e2e tests (cached, ~5 min once).
testbin:
	hack/testbin.sh

# A control plane to poke at by hand: KUBECONFIG=.cache/testcluster/kubeconfig
# TESTCLUSTER_NODES=kwok,evented puts the real node on containerd 2 with
# kubelet's EventedPLEG gate (the spike report's second configuration).
TESTCLUSTER_NODES ?= kwok,real
testcluster: testbin
	@mkdir -p .cache/testcluster
	$(GO) build -o $(BIN)/testcluster ./hack/testcluster
	@if [ -f .cache/testcluster/pid ] && kill -0 $$(cat .cache/testcluster/pid) 2>/dev/null; then echo "already running"; exit 0; fi; \
	rm -f .cache/testcluster/kubeconfig; \
	ENVGEN_TESTBIN=$$(hack/testbin.sh) nohup $(BIN)/testcluster -nodes $(TESTCLUSTER_NODES) > .cache/testcluster/log 2>&1 & echo $$! > .cache/testcluster/pid; \
	for i in $$(seq 1 120); do [ -f .cache/testcluster/kubeconfig ] && break; sleep 0.5; done; \
	cat .cache/testcluster/log

testcluster-down:
	@if [ -f .cache/testcluster/pid ]; then kill $$(cat .cache/testcluster/pid) 2>/dev/null || true; rm -f .cache/testcluster/pid; fi
	@echo "testcluster stopped"

clean:
	rm -rf $(BIN)
