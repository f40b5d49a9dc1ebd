package overlays

import (
	_ "embed"
	"fmt"
	"path"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Built is an environment as kustomize's own engine builds it from the
// generated tree: what `kustomize build overlays/<env>` and
// `kubectl apply -k` give.
type Built struct {
	// YAML is the stream kustomize prints, byte for byte.
	YAML []byte
	// Objects are the same objects, decoded.
	Objects []map[string]any
}

// root is where Build lays the tree out in its in-memory filesystem.
const root = "/deploy"

// Builder runs kustomize (sigs.k8s.io/kustomize/api/krusty, in process) on
// the overlays of one tree. Nothing touches the disk: the tree is laid out
// in memory once, so what is built is exactly what generate writes.
type Builder struct {
	fs filesys.FileSystem
}

// NewBuilder lays tree out in an in-memory filesystem.
func NewBuilder(tree Tree) (*Builder, error) {
	WarmUp()
	fs := filesys.MakeFsInMemory()
	for _, p := range tree.Paths() {
		if err := fs.WriteFile(path.Join(root, p), tree[p]); err != nil {
			return nil, err
		}
	}
	return &Builder{fs: fs}, nil
}

// Build runs kustomize on the overlay of env.
func (b *Builder) Build(env string) (*Built, error) {
	dir := path.Join(root, OverlayDir(env))
	if !b.fs.Exists(path.Join(dir, "kustomization.yaml")) {
		return nil, fmt.Errorf("the tree has no overlay %s", env)
	}
	opts := krusty.MakeDefaultOptions()
	// The legacy order (Namespaces, ConfigMaps, Services… first) is what the
	// kustomize CLI and kubectl -k use by default. Saying it in the
	// kustomizations instead would make kubectl warn on every apply.
	opts.Reorder = krusty.ReorderOptionLegacy
	resMap, err := krusty.MakeKustomizer(opts).Run(b.fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", OverlayDir(env), err)
	}
	yamlOut, err := resMap.AsYaml()
	if err != nil {
		return nil, err
	}
	built := &Built{YAML: yamlOut}
	for _, r := range resMap.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		built.Objects = append(built.Objects, m)
	}
	return built, nil
}

// kubeSchema is the part of kustomize's built-in OpenAPI schema that
// covers the kinds envgen generates (hack/kubeschema writes it, and its
// test keeps it equal to the built-in one): the merge keys and strategies
// kustomize's strategic merge needs. Decoding the whole built-in schema
// would cost every build some 60 ms and 9 MB.
//
//go:embed kubeschema.json
var kubeSchema []byte

var useKubeSchema sync.Once

// WarmUp makes kustomize's engine use kubeSchema and starts decoding it in
// the background. A command calls it before it compiles envgen.cue, so
// that the two overlap; Build calls it too, and waits for the schema like
// any other user of it.
func WarmUp() {
	useKubeSchema.Do(func() {
		if err := openapi.SetSchema(nil, kubeSchema, true); err != nil {
			panic(fmt.Sprintf("envgen's embedded kustomize schema: %v", err))
		}
		go openapi.Schema()
	})
}
