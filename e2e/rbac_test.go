package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"envgen.dev/envgen/runner"
)

// TestRunWithDocumentedRBACOnly runs envgen as a ServiceAccount that has
// exactly what `envgen rbac` prints, applied with the real kubectl.
func TestRunWithDocumentedRBACOnly(t *testing.T) {
	ctx := context.Background()
	client := cluster.Client
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts("jenkins").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "envgen"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rbac := run(t, "rbac", "--namespace", "jenkins", "--service-account", "envgen")
	wantCode(t, rbac, 0)
	rbacFile := filepath.Join(t.TempDir(), "rbac.yaml")
	os.WriteFile(rbacFile, []byte(rbac.Stdout), 0o644)
	kubectl(t, "apply", "-f", rbacFile)

	token, err := client.CoreV1().ServiceAccounts("jenkins").CreateToken(ctx, "envgen", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["test"] = &clientcmdapi.Cluster{Server: cluster.Config.Host, CertificateAuthorityData: cluster.Config.CAData}
	config.AuthInfos["envgen"] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	config.Contexts["ci"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "envgen"}
	config.CurrentContext = "ci"
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, kubeconfig); err != nil {
		t.Fatal(err)
	}

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

	// And the account cannot do what envgen does not need.
	for _, args := range [][]string{{"get", "secrets", "-A"}, {"get", "secret", "rbac-secrets", "-n", "jenkins"}} {
		if runWithKubectl(t, kubeconfig, args...) == nil {
			t.Errorf("the ServiceAccount can kubectl %v", args)
		}
	}
}
