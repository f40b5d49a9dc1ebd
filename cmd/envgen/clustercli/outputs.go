package clustercli

// Where envgen run writes on the CI agent: the working directory is a
// pull request's checkout, and a link committed there must not lead a
// report, a JUnit file or the artifacts anywhere else (the agent's home,
// its git configuration).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/internal/termsafe"
)

// refuseLinks refuses a path that is a link, or that leads through one
// inside the working directory (the checkout): above it the machine's own
// layout is trusted, inside it the repository's is not.
func refuseLinks(flag, p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	check := []string{abs}
	if rel, err := filepath.Rel(cwd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		check = nil
		cur := cwd
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			cur = filepath.Join(cur, part)
			check = append(check, cur)
		}
	}
	for _, c := range check {
		if fi, err := os.Lstat(c); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return cli.Exit(cli.ExitUsage, fmt.Errorf("%s: %s is a link: envgen writes only where no link leads (the working directory is the checkout)", flag, termsafe.String(c)))
		}
	}
	return nil
}

// within says whether p is dir or inside it.
func within(p, dir string) bool {
	ap, err1 := filepath.Abs(p)
	ad, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// createOutput creates an output file of the run, or returns nil for "":
// never through a link, never inside the artifacts directory (where the
// build's own files land and could take its place).
func createOutput(flag, path, artifacts string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	if artifacts != "" && within(path, artifacts) {
		return nil, cli.Exit(cli.ExitUsage, fmt.Errorf("%s: %s is inside --artifacts %s, where the build's files land", flag, path, artifacts))
	}
	if err := refuseLinks(flag, path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, fmt.Errorf("%s: %w", flag, err))
	}
	return f, nil
}
