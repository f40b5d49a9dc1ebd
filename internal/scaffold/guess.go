// Package scaffold writes a first envgen.cue for a service's repository
// (envgen init): the facts a newcomer gives, and those the repository
// already says — the ports its Dockerfile exposes, the test command its
// Makefile, package.json, go.mod or pyproject.toml implies — as a file that
// passes envgen vet as written.
//
// The repository is a pull request's, so its files are read as envgen.cue
// is: regular files only, never through a link, each bounded.
package scaffold

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// maxHintFile bounds each file read for a guess: a Dockerfile or a
// Makefile of more is not one to guess from.
const maxHintFile = 256 << 10

// Guess is what the repository says about the service.
type Guess struct {
	// Ports the Dockerfile exposes, in its order; NoPorts says why there
	// are none ("there is no Dockerfile", "the Dockerfile is a link (not
	// followed)"…).
	Ports   []int
	NoPorts string
	// Command is the test command CI runs, and From the file it was
	// guessed from ("" when none was found).
	Command []string
	From    string
}

// GuessFrom reads dir's Dockerfile and build files.
func GuessFrom(dir string) (Guess, error) {
	var g Guess
	data, skipped, err := readHint(filepath.Join(dir, "Dockerfile"))
	switch {
	case err != nil:
		return g, err
	case data != nil:
		if g.Ports = exposedPorts(data); len(g.Ports) == 0 {
			g.NoPorts = "the Dockerfile EXPOSEs no TCP port"
		}
	default:
		g.NoPorts = "the Dockerfile " + skipped
	}
	for _, probe := range testCommands {
		data, _, err := readHint(filepath.Join(dir, probe.file))
		if err != nil {
			return g, err
		}
		if data == nil {
			continue
		}
		if command := probe.command(data); command != nil {
			g.Command, g.From = command, probe.file
			return g, nil
		}
	}
	return g, nil
}

// testCommands are the build files a test command is guessed from, in
// the order they are tried: a Makefile's test target says what the team
// runs, whatever the language.
var testCommands = []struct {
	file    string
	command func(data []byte) []string
}{
	{"Makefile", func(data []byte) []string {
		if makeTarget.Match(data) {
			return []string{"make", "test"}
		}
		return nil
	}},
	{"package.json", func(data []byte) []string {
		var pkg struct {
			Scripts map[string]string `json:"scripts"`
		}
		if json.Unmarshal(data, &pkg) == nil && pkg.Scripts["test"] != "" {
			return []string{"npm", "test"}
		}
		return nil
	}},
	{"go.mod", func([]byte) []string { return []string{"go", "test", "./..."} }},
	{"Cargo.toml", func([]byte) []string { return []string{"cargo", "test"} }},
	{"pyproject.toml", func([]byte) []string { return []string{"python", "-m", "pytest"} }},
	{"tox.ini", func([]byte) []string { return []string{"tox"} }},
	{"pom.xml", func([]byte) []string { return []string{"mvn", "--batch-mode", "test"} }},
	{"composer.json", func([]byte) []string { return []string{"composer", "test"} }},
}

// makeTarget finds a Makefile's test target.
var makeTarget = regexp.MustCompile(`(?m)^test\s*:`)

// exposedPorts are the TCP ports of a Dockerfile's EXPOSE lines (a
// port/udp is not one a probe or a Service here serves).
func exposedPorts(dockerfile []byte) []int {
	var ports []int
	seen := map[int]bool{}
	scanner := bufio.NewScanner(bytes.NewReader(dockerfile))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 2 || !strings.EqualFold(fields[0], "EXPOSE") {
			continue
		}
		for _, f := range fields[1:] {
			number, protocol, _ := strings.Cut(f, "/")
			n, err := strconv.Atoi(number)
			if err != nil || n < 1 || n > 65535 || (protocol != "" && !strings.EqualFold(protocol, "tcp")) || seen[n] {
				continue
			}
			seen[n] = true
			ports = append(ports, n)
		}
	}
	return ports
}

// readHint reads a regular file of at most maxHintFile bytes, without
// following a link; nil when there is none (or it is something else), and
// skipped then says why, in words that follow the file's name.
func readHint(path string) (data []byte, skipped string, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "is not there", nil
	case errors.Is(err, syscall.ELOOP):
		return nil, "is a link (not followed)", nil
	case err != nil:
		return nil, "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil, "is not a regular file (not read)", nil
	}
	data, err = io.ReadAll(io.LimitReader(f, maxHintFile+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxHintFile {
		return nil, fmt.Sprintf("is larger than %d KiB (not read)", maxHintFile>>10), nil
	}
	return data, "", nil
}
