package e2ekit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"envgen.dev/envgen/internal/testcluster"
)

// LeastPrivilegeKubeconfig makes the ServiceAccount namespace/name, grants
// it exactly what `envgen rbac` (with rbacArgs) prints (applied with the
// cluster's kubectl), waits until the admission guard is in force, and
// returns a kubeconfig that acts as that account.
func LeastPrivilegeKubeconfig(t *testing.T, c *testcluster.Cluster, envgen, namespace, name string, rbacArgs ...string) string {
	t.Helper()
	grant(t, c, envgen, namespace, name, []string{namespace}, rbacArgs...)
	kubeconfig := TokenKubeconfig(t, c, namespace, name)
	// kube-apiserver loads admission policies asynchronously: wait until
	// each refuses what only it refuses (the guard, a namespace not
	// labelled as envgen's; the box, a build namespace that is not
	// restricted).
	dir := t.TempDir()
	probes := []struct{ labels, want string }{
		{`{pod-security.kubernetes.io/enforce: restricted}`, "envgen may create and delete only"},
		{`{app.kubernetes.io/managed-by: envgen, pod-security.kubernetes.io/enforce: privileged}`, "enforces Pod Security restricted"},
	}
	for i, p := range probes {
		file := filepath.Join(dir, fmt.Sprintf("probe-%d.yaml", i))
		manifest := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: policy-probe-ci-%d-00000000, labels: %s}\n", i, p.labels)
		if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := Kubectl(c, kubeconfig, "apply", "--dry-run=server", "-f", file)
			if err != nil && strings.Contains(out, p.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the admission policy is not enforced 30s after kubectl apply: %v\n%s", err, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return kubeconfig
}

// NamespacedKubeconfig makes the ServiceAccount saNamespace/name and the
// namespace buildNamespace, grants the account exactly what `envgen rbac
// --build-namespace` prints (applied with the cluster's kubectl), and
// returns a kubeconfig that acts as that account.
func NamespacedKubeconfig(t *testing.T, c *testcluster.Cluster, envgen, saNamespace, name, buildNamespace string) string {
	t.Helper()
	grant(t, c, envgen, saNamespace, name, []string{saNamespace, buildNamespace}, "--build-namespace", buildNamespace)
	return TokenKubeconfig(t, c, saNamespace, name)
}

// grant creates the namespaces and the ServiceAccount saNamespace/name,
// and applies with the cluster's kubectl what `envgen rbac` prints for it
// (with rbacArgs).
func grant(t *testing.T, c *testcluster.Cluster, envgen, saNamespace, name string, namespaces []string, rbacArgs ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range namespaces {
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Client.CoreV1().ServiceAccounts(saNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rbac := Run(t, envgen, c.Kubeconfig, append([]string{"rbac", "--service-account-namespace", saNamespace, "--service-account", name}, rbacArgs...)...)
	WantCode(t, rbac, 0)
	rbacFile := filepath.Join(t.TempDir(), "rbac.yaml")
	if err := os.WriteFile(rbacFile, []byte(rbac.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := Kubectl(c, c.Kubeconfig, "apply", "-f", rbacFile); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// TokenKubeconfig returns a kubeconfig that acts as the ServiceAccount
// namespace/name, with a token from the TokenRequest API.
func TokenKubeconfig(t *testing.T, c *testcluster.Cluster, namespace, name string) string {
	t.Helper()
	token, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["test"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
	config.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	config.Contexts["ci"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: name}
	config.CurrentContext = "ci"
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// Kubectl runs the cluster's kubectl with a kubeconfig and returns its
// combined output.
func Kubectl(c *testcluster.Cluster, kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.Bin, "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
