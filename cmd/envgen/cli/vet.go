package cli

import (
	"envgen.dev/envgen/internal/version"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/vet"
)

type vetOptions struct {
	output string
	failOn string
}

// findingsError makes vet exit 1, and generate/build refuse production.
type findingsError struct {
	n   int
	msg string
}

func (e *findingsError) Error() string { return e.msg }

func newVetCmd() *cobra.Command {
	var opts vetOptions
	cmd := &cobra.Command{
		Use:   "vet [dir | dir/...]",
		Short: "Check envgen.cue against envgen's policies",
		Long: `Vet checks every environment of dir/envgen.cue against envgen's built-in
policies and the invariants envgen.cue declares, and reports each finding at
its place in envgen.cue (file:line:col and field) with a fix.

` + ruleList() + `
A rule is switched off only with a written reason, in envgen.cue:

  vet: off: EG009: "the fake SMTP server has no health endpoint"

and vet prints the reason. Only in some environments:

  vet: off: EG004: {reason: "staging runs one replica", environments: ["staging"]}

Invariants between environments:

  vet: invariants: "prod-like-staging": {
  	environments: ["staging", "production"]
  	mayDiffer: ["replicas", "resources", "autoscale", "disruptionBudget"]
  }

generate and build refuse to emit production (and production-*) when it has
error-level findings, unless --allow-findings is given.

With dir/... vet checks every envgen.cue under dir (deploy/, cue.mod/,
testdata/, node_modules/, vendor/ and hidden directories skipped, links not
followed), side by side, each service's findings under its path, then a
summary; the exit code is the worst. -o json, sarif and gerrit take one service.

Exit codes: 0 no findings (at or above --fail-on: warning by default, so any
finding fails; --fail-on error lets warnings through, printed), 1 findings
(or invalid envgen.cue), 2 wrong usage.`,
		Example: `  envgen vet
  envgen vet -o sarif > envgen.sarif
  envgen vet services/...   # every service under services/`,
		Args: Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Flags once, before any service is vetted.
			if opts.failOn != "error" && opts.failOn != "warning" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--fail-on must be error or warning, not %q", opts.failOn)}
			}
			if opts.output != "text" && opts.output != "json" && opts.output != "sarif" && opts.output != "gerrit" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text, json, sarif or gerrit, not %q", opts.output)}
			}
			if _, many := patternRoot(args); many && opts.output != "text" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("-o %s prints one document for one service: vet each service on its own", opts.output)}
			}
			return forEachService(cmd, args, func(cmd *cobra.Command, args []string) error {
				return runVet(cmd, args, opts)
			})
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text, json, sarif (2.1.0) or gerrit (a Set Review input)")
	cmd.Flags().StringVar(&opts.failOn, "fail-on", "warning", "the lowest severity that fails (exit 1): warning or error")
	return cmd
}

func ruleList() string {
	s := "Rules (staging/production rules apply to staging, production and their -variants):\n"
	for _, r := range vet.Rules {
		s += fmt.Sprintf("  %s %-7s %-9s %s\n", r.ID, r.Severity, r.Scope, r.Summary)
	}
	return s + "  EG010 error   invariants environments differ only where envgen.cue says they may\n"
}

// refuseProductionFindings is the gate of generate and build: production
// with error-level findings is not emitted unless allowed.
func refuseProductionFindings(project *compiler.Project, only string, allow bool) error {
	if allow {
		return nil
	}
	report := vet.Check(project)
	keep := func(env string) bool {
		return vet.Production(env) && (only == "" || compiler.EnvironmentOf(env) == only)
	}
	if n := report.Errors(keep); n > 0 {
		return &findingsError{n: n, msg: fmt.Sprintf("production has %d error-level vet finding(s); run 'envgen vet' to see them, or pass --allow-findings", n)}
	}
	return nil
}

func runVet(cmd *cobra.Command, args []string, opts vetOptions) error {
	if opts.failOn != "error" && opts.failOn != "warning" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--fail-on must be error or warning, not %q", opts.failOn)}
	}
	if opts.output != "text" && opts.output != "json" && opts.output != "sarif" && opts.output != "gerrit" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text, json, sarif or gerrit, not %q", opts.output)}
	}
	out := cmd.OutOrStdout()
	// A reader of JSON, SARIF or Gerrit's input gets a document either
	// way: a compile error, or a budget spent evaluating, as EG000
	// findings; stderr and the exit code say it as for text.
	compileFailed := func(invalid *compiler.InputError) {
		report := vet.CompileErrorReport(invalid, InputPath(args))
		switch opts.output {
		case "json":
			_ = report.JSON(out)
		case "gerrit":
			_ = report.Gerrit(out)
		default:
			_ = report.SARIF(out, version.Get().Release+"+"+version.Get().Commit)
		}
	}
	// One document per invocation: -o json, sarif and gerrit take no
	// dir/... pattern.
	word := lastWordOf(cmd.Context())
	if opts.output != "text" {
		word.promise(func(err error) { compileFailed(&compiler.InputError{Lines: []string{err.Error()}}) })
	}
	result, err := pipeline.Load(InputPath(args), compiler.Options{})
	if opts.output != "text" && !word.claim() {
		return err // the budget ran out: its document is printed
	}
	var invalid *compiler.InputError
	if errors.As(err, &invalid) && opts.output != "text" {
		compileFailed(invalid)
	}
	if err != nil {
		return err
	}
	report := vet.Check(result.Project)
	switch opts.output {
	case "json":
		err = report.JSON(out)
	case "sarif":
		err = report.SARIF(out, version.Get().Release+"+"+version.Get().Commit)
	case "gerrit":
		err = report.Gerrit(out)
	default:
		report.Text(out, InputPath(args))
	}
	if err != nil {
		return err
	}
	if n := len(report.Findings); n > 0 && opts.failOn == "warning" {
		return &findingsError{n: n, msg: fmt.Sprintf("%d finding(s)", n)}
	}
	if n := report.Errors(nil); n > 0 {
		return &findingsError{n: n, msg: fmt.Sprintf("%d error-level finding(s)", n)}
	}
	return nil
}
