package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestRunWithDocumentedRBACOnly runs envgen as a ServiceAccount that has
// exactly what `envgen rbac` prints, applied with the real kubectl.
func TestRunWithDocumentedRBACOnly(t *testing.T) {
	kubeconfig := e2ekit.LeastPrivilegeKubeconfig(t, cluster, envgen, "jenkins", "envgen")

	dir := service(t, "rbac", `annotations: "kwok.test/exit-code": "2"
env: TOKEN: {secret: "rbac-secrets", key: "token"}
secrets: "rbac-secrets": ["token"]
services: db: {image: "registry.example.org/db", tag: "1", ports: db: 5432, readiness: tcp: port: "db"}`)
	t.Setenv("RBAC_TOKEN", "rbac-token-value")
	r := runWith(t, kubeconfig, "run", "--build-id", "rbac-1", "--secret", "rbac-secrets/token=env:RBAC_TOKEN", dir)
	wantCode(t, r, 2) // the build's own failure, with events shown: nothing was forbidden
	wantContains(t, "stderr", r.Stderr, "recent events in")
	wantContains(t, "stdout", r.Stdout, "42 passing (2s)")
	namespaceGone(t, runner.NamespaceName("rbac", "rbac-1"))

	gc := runWith(t, kubeconfig, "gc", "--dry-run")
	wantCode(t, gc, 0)

	// And the account cannot do what envgen does not need. RBAC first, as
	// kubectl auth can-i sees it.
	for _, args := range [][]string{{"get", "secrets", "-A"}, {"get", "secret", "rbac-secrets", "-n", "jenkins"}} {
		if runWithKubectl(t, kubeconfig, args...) == nil {
			t.Errorf("the ServiceAccount can kubectl %v", args)
		}
	}
	for _, check := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "secrets", "--all-namespaces"}, "no"},
		{[]string{"update", "namespaces"}, "no"},
		{[]string{"create", "clusterrolebindings"}, "no"},
		// RBAC cannot confine these to envgen's namespaces: the
		// admission guard does, below.
		{[]string{"delete", "namespaces"}, "yes"},
		{[]string{"create", "pods", "-n", "kube-system"}, "yes"},
		{[]string{"create", "pods", "--subresource=exec", "-n", "team-a"}, "yes"},
		{[]string{"get", "pods", "--subresource=exec", "-n", "kube-system"}, "yes"},
	} {
		cmd := exec.Command(filepath.Join(cluster.Bin, "kubectl"), append([]string{"auth", "can-i"}, check.args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		out, _ := cmd.Output() // the answer; warnings go to stderr
		if got := strings.TrimSpace(string(out)); got != check.want {
			t.Errorf("kubectl auth can-i %v: %q, want %q", check.args, got, check.want)
		}
	}
	// (kube-system itself cannot be deleted by anyone: another namespace
	// someone else made stands for it.)
	kubectl(t, "create", "namespace", "team-a")
	kubectl(t, "run", "their-app", "--image=registry.example.org/app:1", "-n", "team-a")
	// Then real requests (server-side dry-run: admission runs, nothing
	// changes even if the guard failed): the admission guard refuses every
	// one outside envgen's namespaces.
	for _, check := range []struct {
		args []string
		want string
	}{
		{[]string{"delete", "namespace", "team-a"}, "envgen may create and delete only namespaces labelled app.kubernetes.io/managed-by=envgen"},
		{[]string{"delete", "namespace", "jenkins"}, "envgen may create and delete only namespaces labelled"},
		{[]string{"create", "namespace", "not-a-build"}, "envgen may create and delete only namespaces labelled"},
		{[]string{"run", "intruder", "--image=registry.example.org/x:1", "-n", "kube-system"}, "envgen may change objects only in namespaces labelled"},
		{[]string{"create", "configmap", "x", "-n", "default"}, "envgen may change objects only in namespaces labelled"},
		{[]string{"create", "secret", "generic", "x", "--from-literal=a=b", "-n", "jenkins"}, "envgen may change objects only in namespaces labelled"},
		{[]string{"label", "service", "kubernetes", "-n", "default", "x=y"}, "envgen may change objects only"},
		// exec has no dry-run; admission refuses it before it connects.
		{[]string{"exec", "their-app", "-n", "team-a", "--", "cat", "/etc/hostname"}, "envgen may change objects only"},
	} {
		args := check.args
		if args[0] != "exec" {
			args = append(args, "--dry-run=server")
		}
		out, err := kubectlAs(kubeconfig, args...)
		if err == nil || !strings.Contains(out, check.want) {
			t.Errorf("kubectl %v as envgen: %v\n%s\nwant refused: %q", check.args, err, out, check.want)
		}
	}
}
