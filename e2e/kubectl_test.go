package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
)

// kubectl runs the kubectl built with the control plane, as admin.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlAs(cluster.Kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return out
}

// runWithKubectl runs kubectl with another kubeconfig and returns its error.
func runWithKubectl(t *testing.T, kubeconfig string, args ...string) error {
	t.Helper()
	cmd := exec.Command(filepath.Join(cluster.Bin, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return cmd.Run()
}

// kubectlAs runs kubectl with another kubeconfig and returns its combined
// output and error.
func kubectlAs(kubeconfig string, args ...string) (string, error) {
	return e2ekit.Kubectl(cluster, kubeconfig, args...)
}
