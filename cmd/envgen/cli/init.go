package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/scaffold"
	"envgen.dev/envgen/internal/wholefile"
	"envgen.dev/envgen/vet"
)

// generatedAttribute marks deploy/ as generated for code review tools
// (GitHub and GitLab fold such files in a diff, Gerrit's reviewers see the
// line) and for linguist's language statistics.
const generatedAttribute = "deploy/** linguist-generated=true"

func newInitCmd() *cobra.Command {
	var (
		name, image, healthPath, ciCommand string
		ports                              []string
		tcp                                bool
	)
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Write a first envgen.cue for the service in dir, one that passes vet",
		Long: `init writes dir/envgen.cue for a service that has none: its name (the
directory's, unless --name), its image (--image, the one thing init cannot
guess), its ports (--port, or what the Dockerfile EXPOSEs), probes on the
first port, resources to measure and adjust, the command CI runs (--ci-command,
or guessed: a Makefile's test target, package.json's test script, go.mod,
Cargo.toml, pyproject.toml, tox.ini, pom.xml, composer.json), and two Pods
with a disruption budget in staging and production. The file passes envgen
vet as written: the digest pin of staging and production is switched off,
with its reason, until envgen promote writes the first one.

It also marks deploy/ as generated in dir/.gitattributes (added to one that
exists), so review tools fold the generated YAML.

init never replaces an envgen.cue, and reads the repository's files as
envgen reads envgen.cue: regular files only, no links, each bounded.`,
		Example: `  envgen init --image registry.example.org/team/hello:1.0
  envgen init services/hello --image registry.example.org/hello:1.0 --port http=8080 --ci-command "make check"
  envgen init --image registry.example.org/hello:1.0 --tcp-probe --name hello`,
		Args: Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) > 0 {
				dir = args[0]
			}
			usage := func(format string, a ...any) error {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf(format, a...)}
			}
			switch info, err := os.Lstat(dir); {
			case errors.Is(err, os.ErrNotExist):
				return usage("%s does not exist: init writes into the service's directory (its repository)", dir)
			case err == nil && info.Mode()&os.ModeSymlink != 0:
				return usage("%s is a link: init writes only into a directory itself, never through a link (give the directory it points to)", dir)
			case err != nil || !info.IsDir():
				return usage("%s is not a directory", dir)
			}
			target := filepath.Join(dir, InputFile)
			if _, err := os.Lstat(target); err == nil {
				return usage("%s exists: init writes a first one only (edit it, or move it away)", target)
			}
			guess, err := scaffold.GuessFrom(dir)
			if err != nil {
				return err
			}
			s := scaffold.Service{Name: name, HealthPath: healthPath}
			if tcp {
				s.HealthPath = ""
			}
			if s.Name == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				if s.Name = scaffold.NameFrom(filepath.Base(abs)); s.Name == "" {
					return usage("no service name can be made of the directory's %q: give --name", filepath.Base(abs))
				}
			}
			if image == "" {
				return usage("init needs the image CI tests and production runs: --image registry.example.org/team/%s:1.0", s.Name)
			}
			if s.Image, s.Tag, s.Digest, err = scaffold.ParseImage(image); err != nil {
				return usage("--image: %w", err)
			}
			if s.Ports, err = initPorts(ports, guess.Ports, guess.NoPorts); err != nil {
				return usage("%w", err)
			}
			s.Command = strings.Fields(ciCommand)
			if len(s.Command) == 0 {
				s.Command, s.CommandFrom = guess.Command, guess.From
			}
			if len(s.Command) == 0 {
				return usage("no test command found (no Makefile test target, package.json test script, go.mod…): give --ci-command \"make test\"")
			}
			src, err := scaffold.EnvgenCUE(s)
			if err != nil {
				return fmt.Errorf("formatting envgen.cue (a bug in envgen): %w", err)
			}
			if err := passesVet(target, src); err != nil {
				return err
			}
			if err := wholefile.Create(target, 0o644, bytes.NewReader(src)); err != nil {
				return err
			}
			marked, err := markGenerated(filepath.Join(dir, ".gitattributes"))
			if err != nil {
				return err
			}
			out := cmd.ErrOrStderr()
			fmt.Fprintf(out, "wrote %s: service %s, ports %s, CI runs %q", target, s.Name, portWords(s.Ports), strings.Join(s.Command, " "))
			if s.CommandFrom != "" {
				fmt.Fprintf(out, " (from %s)", s.CommandFrom)
			}
			fmt.Fprintln(out)
			if marked != "" {
				fmt.Fprintln(out, marked)
			}
			fmt.Fprintf(out, "next: envgen vet %s && envgen generate %s (commit deploy/), envgen run %s in CI\n", dir, dir, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the service's name (default: the directory's, made a DNS label)")
	cmd.Flags().StringVar(&image, "image", "", "the service's image, with a tag or a digest (registry.example.org/team/hello:1.0)")
	cmd.Flags().StringArrayVar(&ports, "port", nil, "a port, name=number or number (repeatable; default: the Dockerfile's EXPOSE)")
	cmd.Flags().StringVar(&healthPath, "health-path", "/healthz", "the HTTP path the probes ask on the first port")
	cmd.Flags().BoolVar(&tcp, "tcp-probe", false, "probe the first port by TCP connect instead of HTTP")
	cmd.Flags().StringVar(&ciCommand, "ci-command", "", "the command CI runs in the image, split at spaces (default: guessed)")
	return cmd
}

// initPorts are the ports given (name=number or number), or else those the
// Dockerfile exposes; the first unnamed is http, the others port-<number>.
func initPorts(given []string, exposed []int, noPorts string) ([]scaffold.Port, error) {
	var out []scaffold.Port
	name := func(n int) string {
		if len(out) == 0 {
			return "http"
		}
		return "port-" + strconv.Itoa(n)
	}
	for _, p := range given {
		portName, number, named := strings.Cut(p, "=")
		if !named {
			number = portName
		}
		n, err := strconv.Atoi(number)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--port %q: give name=number (http=8080) or a number from 1 to 65535", p)
		}
		if !named {
			portName = name(n)
		}
		out = append(out, scaffold.Port{Name: portName, Number: n})
	}
	if len(out) == 0 {
		for _, n := range exposed {
			out = append(out, scaffold.Port{Name: name(n), Number: n})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no port: %s; give --port http=8080", noPorts)
	}
	return out, nil
}

func portWords(ports []scaffold.Port) string {
	var words []string
	for _, p := range ports {
		words = append(words, fmt.Sprintf("%s %d", p.Name, p.Number))
	}
	return strings.Join(words, ", ")
}

// passesVet compiles and vets what init would write: a value given that
// envgen refuses is the user's to change; a finding is envgen's bug.
func passesVet(target string, src []byte) error {
	project, err := compiler.Compile(target, src, compiler.Options{})
	if err != nil {
		return &usageError{command: "envgen init", err: fmt.Errorf("the values given make an envgen.cue envgen refuses (nothing written): %w%s", err, refusedLines(target, src, err))}
	}
	if report := vet.Check(project); len(report.Findings) > 0 {
		f := report.Findings[0]
		return fmt.Errorf("envgen init would write a file vet refuses, a bug in envgen: %s %s: %s", f.Rule, f.Field, f.Message)
	}
	return nil
}

// refusedLines shows the lines of the file init would have written that
// the compiler's error points at: the file is not on disk to look at.
func refusedLines(target string, src []byte, err error) string {
	lines := strings.Split(string(src), "\n")
	var out strings.Builder
	seen := map[int]bool{}
	for _, m := range regexp.MustCompile(regexp.QuoteMeta(target)+`:(\d+):`).FindAllStringSubmatch(err.Error(), 5) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > len(lines) || seen[n] {
			continue
		}
		seen[n] = true
		fmt.Fprintf(&out, "\n  line %d of the file init would write: %s", n, strings.TrimSpace(lines[n-1]))
	}
	return out.String()
}

// markGenerated adds generatedAttribute to a .gitattributes (made if
// there is none) that lacks it, and says what it did ("" if nothing). A
// .gitattributes that is a link or not a regular file is left alone.
func markGenerated(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := wholefile.Create(path, 0o644, strings.NewReader(generatedAttribute+"\n")); err != nil {
			return "", err
		}
		return fmt.Sprintf("wrote %s: deploy/ is generated", path), nil
	}
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Sprintf("left %s alone (a link): mark deploy/ as generated there yourself (%s)", path, generatedAttribute), nil
	}
	if err != nil {
		// A directory, a file envgen may not write: envgen.cue is
		// written already, and the hint is not worth undoing it.
		return fmt.Sprintf("left %s alone (%s): mark deploy/ as generated there yourself (%s)", path, errors.Unwrap(err), generatedAttribute), nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() > maxHintSize {
		return fmt.Sprintf("left %s alone: mark deploy/ as generated there yourself (%s)", path, generatedAttribute), nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "deploy/") {
			return "", nil // the team has said what deploy/ is
		}
	}
	add := generatedAttribute + "\n"
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		add = "\n" + add
	}
	if _, err := f.WriteAt([]byte(add), info.Size()); err != nil {
		return "", err
	}
	return fmt.Sprintf("added to %s: deploy/ is generated", path), nil
}

// maxHintSize bounds a .gitattributes init adds to.
const maxHintSize = 1 << 20
