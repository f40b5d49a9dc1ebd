package cli

// Shell completion beyond command names: environments for --env (read
// from the service's envgen.cue), the formats of -o, and for explain the
// objects of the environment. `envgen completion bash|zsh|fish|powershell`
// prints the shell's script (cobra's).

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
)

// addCompletions registers the dynamic completions on every command of
// the tree that has the flag or the argument.
func addCompletions(c *cobra.Command) {
	if c.Flags().Lookup("env") != nil {
		c.RegisterFlagCompletionFunc("env", completeEnvironments)
	}
	if f := c.Flags().Lookup("output"); f != nil {
		formats := outputFormats(f.Usage)
		c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return formats, cobra.ShellCompDirectiveNoFileComp
		})
	}
	for _, sub := range c.Commands() {
		addCompletions(sub)
	}
}

// parenthetical is an aside in a usage text: "sarif (2.1.0)".
var parenthetical = regexp.MustCompile(`\s*\([^)]*\)`)

// outputFormats are the formats an -o flag's usage names: "output format:
// text, json, sarif (2.1.0) or gerrit (a Set Review input)".
func outputFormats(usage string) []string {
	_, list, ok := strings.Cut(usage, "output format: ")
	if !ok {
		return nil
	}
	list = strings.ReplaceAll(parenthetical.ReplaceAllString(list, ""), " or ", ", ")
	var formats []string
	for _, f := range strings.Split(list, ",") {
		formats = append(formats, strings.TrimSpace(f))
	}
	return formats
}

// serviceDir is the service directory among a command's arguments: the
// last that holds an envgen.cue, or ".".
func serviceDir(args []string) string {
	for i := len(args) - 1; i >= 0; i-- {
		if info, err := os.Lstat(filepath.Join(args[i], InputFile)); err == nil && info.Mode().IsRegular() {
			return args[i]
		}
	}
	return "."
}

// completeEnvironments lists the service's environments.
func completeEnvironments(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	project, err := compiler.CompileFile(filepath.Join(serviceDir(args), InputFile), compiler.Options{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return project.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
}

// completeObjects lists explain's objects (kind/name) of the environment
// --env names; the path and the directory are not completed.
func completeObjects(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	env, _ := cmd.Flags().GetString("env")
	if len(args) > 0 || env == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	result, err := pipeline.Load(filepath.Join(serviceDir(args), InputFile), compiler.Options{Environments: []string{env}})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	built, err := result.Render(env)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var refs []string
	for _, obj := range built.Objects {
		kind, _ := obj["kind"].(string)
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		refs = append(refs, strings.ToLower(kind)+"/"+name)
	}
	return refs, cobra.ShellCompDirectiveNoFileComp
}
