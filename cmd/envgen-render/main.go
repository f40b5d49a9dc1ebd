// Command envgen-render is the init container that writes a config file
// whose secret values live in the cluster (envgen.cue's fileSecrets).
//
// envgen puts the file's reviewed content, with its ${NAME} placeholders,
// in the files ConfigMap, and each placeholder's Secret key in a projected
// volume only this container mounts. When the Pod starts, envgen-render
// fills the placeholders and writes the file into a memory-backed
// emptyDir, which the containers that read the file mount read-only where
// the application expects it. The secret values are never in git, in a
// ConfigMap or on the node's disk.
//
//	envgen-render --templates DIR --secrets DIR --out DIR KEY=NAME[,NAME...]...
//
// For each KEY, it reads the template DIR/KEY, fills each NAME from the
// file <secrets>/KEY/NAME, and writes <out>/KEY (mode 0444, by a rename,
// so a reader never sees half a file). It is built static, into an image
// of its own (see the Dockerfile beside this file), so that it runs
// whatever the service's image has in it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"envgen.dev/envgen/internal/placeholder"
	"envgen.dev/envgen/internal/wholefile"
)

// maxFileBytes bounds every file read: a ConfigMap or a Secret holds at
// most 1 MiB.
const maxFileBytes = 1 << 20

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "envgen-render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("envgen-render", flag.ContinueOnError)
	templates := flags.String("templates", "", "the directory of the files' templates (the files ConfigMap)")
	secrets := flags.String("secrets", "", "the directory of the secret values, one directory per file")
	out := flags.String("out", "", "the directory the files are written to")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *templates == "" || *secrets == "" || *out == "" || flags.NArg() == 0 {
		return errors.New("usage: envgen-render --templates DIR --secrets DIR --out DIR KEY=NAME[,NAME,…] [KEY=…]")
	}
	for _, spec := range flags.Args() {
		key, names, ok := strings.Cut(spec, "=")
		if !ok || !isKey(key) || names == "" {
			return fmt.Errorf("%q: want KEY=NAME[,NAME...]", spec)
		}
		if err := renderFile(*templates, filepath.Join(*secrets, key), *out, key, strings.Split(names, ",")); err != nil {
			return err
		}
	}
	return nil
}

// renderFile writes out/key: the template templates/key with each name's
// placeholder filled from secrets/name.
func renderFile(templates, secrets, out, key string, names []string) error {
	template, err := readBounded(filepath.Join(templates, key))
	if err != nil {
		return err
	}
	values := map[string][]byte{}
	for _, name := range names {
		if !placeholder.IsName(name) {
			return fmt.Errorf("%s: %q is not a placeholder name", key, name)
		}
		if values[name], err = readBounded(filepath.Join(secrets, name)); err != nil {
			return fmt.Errorf("the secret value of ${%s} in %s: %w", name, key, err)
		}
	}
	rendered := placeholder.Fill(template, values)
	if err := wholefile.Replace(filepath.Join(out, key), 0o444, bytes.NewReader(rendered)); err != nil {
		return err
	}
	fmt.Printf("envgen-render: wrote %s (%d placeholders, %d bytes)\n", key, len(names), len(rendered))
	return nil
}

// readBounded reads a whole file of at most maxFileBytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileBytes)
	}
	return data, nil
}

// isKey says whether key is a ConfigMap key that names a file of the
// directory itself (no separator, not . or ..).
func isKey(key string) bool {
	if key == "" || key == "." || key == ".." || len(key) > 253 {
		return false
	}
	for _, r := range key {
		switch {
		case r == '-', r == '.', r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		default:
			return false
		}
	}
	return true
}
