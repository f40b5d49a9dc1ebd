package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/internal/wholefile"
)

func newInstallCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "install DIR",
		Short: "Copy envgen and envgen-cluster into DIR (an agent's tools volume)",
		Long: `install copies the running envgen binary and the envgen-cluster beside it
(which runs envgen's cluster commands) to DIR (mode 0755, each written whole:
a temporary file renamed into place). envgen's container image has no shell,
so a CI agent that runs shell steps gets envgen from it this way: the image as
an init container that runs "install /tools" into a volume the agent
container mounts and puts on its PATH (docs/jenkins/resources/envgen-agent.yaml).`,
		Example: `  envgen install /tools          # in an init container of envgen's image`,
		Args:    Args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if info, err := os.Stat(dir); err != nil || !info.IsDir() {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("%s is not a directory", dir)}
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			// The pair is opened whole before anything is written: an
			// agent never gets one without the other. envgen-cluster
			// answers install too, so either may be the one running.
			sources := map[string]string{"envgen": self, ClusterBinary: filepath.Join(filepath.Dir(self), ClusterBinary)}
			if filepath.Base(self) == ClusterBinary {
				sources["envgen"] = filepath.Join(filepath.Dir(self), "envgen")
			}
			files := map[string]*os.File{}
			for name, path := range sources {
				f, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("install copies envgen and envgen-cluster, installed side by side: %w", err)
				}
				defer f.Close()
				files[name] = f
			}
			// envgen-cluster first: an agent that finds envgen finds the
			// pair whole.
			for _, name := range []string{ClusterBinary, "envgen"} {
				if err := wholefile.Replace(filepath.Join(dir, name), 0o755, files[name]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "installed %s\n", filepath.Join(dir, name))
			}
			return nil
		},
	}
}
