# envgen's tasks. A newcomer needs two:
#   make example   build envgen and print the ci environment of examples/citoid
#   make test      lint and run every test
GO ?= go
BIN := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2
CUE_VERSION := v0.17.1
KUSTOMIZE_VERSION := v5.8.1

.PHONY: all build example test unit lint golden bench testbin clean

all: build

build:
	$(GO) build -o $(BIN)/envgen ./cmd/envgen

# The main job on the bundled example.
example: build
	$(BIN)/envgen build --env ci examples/citoid

test: lint unit

unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Rewrite every golden file (testscripts included), then review the diff.
golden:
	ENVGEN_UPDATE=1 $(GO) test -count=1 ./...
	git status --short golden testscripts

# envgen build --env ci against the stock pipeline (cue export + kustomize
# build), both built from the Go module proxy into bin/.
bench: build $(BIN)/cue $(BIN)/kustomize
	ENVGEN_BENCH_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchtime 20x -count 1 ./bench/

$(BIN)/cue:
	GOBIN=$(BIN) $(GO) install cuelang.org/go/cmd/cue@$(CUE_VERSION)

$(BIN)/kustomize:
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# The real control plane binaries for the e2e tests (cached, ~5 min once).
testbin:
	hack/testbin.sh

clean:
	rm -rf $(BIN)
