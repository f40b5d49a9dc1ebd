package clustercli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins"
	"envgen.dev/envgen/pins/registry"
)

func newLockCmd() *cobra.Command {
	var (
		envs  []string
		check bool
	)
	cmd := &cobra.Command{
		Use:   "lock [dir]",
		Short: "Pin every tag staging and production still use to its digest, in envgen.lock.cue",
		Long: `lock resolves, against the registries, every image that staging, production
and the environments that extend them still name by tag — the service's
image, its containers' (proxies, sidecars), and with --env ci the build's
and the test services' — and pins each to the digest it names now, in
envgen.lock.cue beside envgen.cue (a generated file of its package: commit
it; envgen generate then puts the digests into deploy/). A tag that moves
later changes nothing deployed until lock runs again and the change is
reviewed.

A promotion (envgen promote) is never changed, nor what it covers. A pin
whose tag envgen.cue no longer names goes.

With --check it changes nothing and exits 1 when the lock is stale: a tag
moved since, a tag not pinned, a pin from a tag envgen.cue no longer names
(for CI on the default branch).

Credentials come from the Docker config, as docker and crane find them.
Each request is bounded (30 s); a registry that is down, slow or refuses
access fails the command with 125, saying which.`,
		Example: `  envgen lock && envgen generate
  envgen lock --check         # CI: exit 1 when a tag moved`,
		Args: cli.Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := cli.InputPath(args)
			dir := filepath.Dir(path)
			// envgen.cue alone, tags and all: what lock resolves.
			bare, err := compiler.CompileFile(path, compiler.Options{NoPins: true})
			if err != nil {
				return err
			}
			if len(envs) == 0 {
				envs = pins.LockEnvironments(bare)
			}
			tagged, err := pins.TaggedImages(bare, envs)
			if err != nil {
				return err
			}
			lock, err := pins.ReadLock(dir)
			if err != nil {
				return cli.Exit(cli.ExitInvalid, err)
			}
			next, drift, err := lock.Relock(cmd.Context(), bare, envs, tagged, registry.Resolve)
			if err != nil {
				return registryExit(cmd.Context(), err)
			}
			out := cmd.OutOrStdout()
			for _, d := range drift {
				fmt.Fprintln(out, termsafe.String(d.String()))
			}
			count := 0
			for _, fields := range next.Pins {
				count += len(fields)
			}
			if check {
				if len(drift) > 0 {
					return cli.Exit(cli.ExitInvalid, fmt.Errorf("%s is stale (%d differences): run envgen lock, then envgen generate", pins.FileName, len(drift)))
				}
				fmt.Fprintf(out, "%s is current: %d pins\n", pins.FileName, count)
				return nil
			}
			if len(drift) == 0 {
				fmt.Fprintf(out, "%s is current: %d pins\n", pins.FileName, count)
				return nil
			}
			pkg, err := pins.Package(path)
			if err != nil {
				return err
			}
			if err := next.Write(dir, pkg); err != nil {
				return cli.Exit(cli.ExitIO, err)
			}
			fmt.Fprintf(out, "wrote %s: %d pins; run envgen generate to put them into deploy/\n", filepath.Join(dir, pins.FileName), count)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&envs, "env", "e", nil, "an environment to lock (repeat; default: staging, production and those that extend them)")
	cmd.Flags().BoolVar(&check, "check", false, "change nothing; exit 1 when a tag moved or is not pinned")
	return cmd
}
