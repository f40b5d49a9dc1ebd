package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

const buildNamespace = "team-builds"

// The namespaced mode: envgen runs in a namespace a platform team made,
// as a ServiceAccount holding only the Role `envgen rbac
// --build-namespace` prints. It can do a build there, and nothing outside.
func TestNamespacedMode(t *testing.T) {
	kubeconfig := e2ekit.NamespacedKubeconfig(t, cluster, envgen, "jenkins-ns", "envgen-ns", buildNamespace)
	ctx := context.Background()

	t.Run("least privilege", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "pods", "-n", buildNamespace}, "yes"},
			{[]string{"create", "leases.coordination.k8s.io", "-n", buildNamespace}, "yes"},
			{[]string{"create", "secrets", "-n", buildNamespace}, "yes"},
			{[]string{"get", "secrets", "-n", buildNamespace}, "no"},
			{[]string{"list", "secrets", "-n", buildNamespace}, "no"},
			{[]string{"create", "namespaces"}, "no"},
			{[]string{"delete", "namespaces"}, "no"},
			{[]string{"delete", "namespaces/" + buildNamespace}, "no"},
			{[]string{"create", "pods", "-n", "kube-system"}, "no"},
			{[]string{"create", "pods", "-n", "default"}, "no"},
			{[]string{"delete", "pods", "-n", "kube-system"}, "no"},
			{[]string{"create", "rolebindings", "-n", buildNamespace}, "no"},
		} {
			out, _ := e2ekit.Kubectl(cluster, kubeconfig, append([]string{"auth", "can-i"}, tc.args...)...)
			// The answer is the last line (kubectl may warn before it).
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if got := lines[len(lines)-1]; got != tc.want {
				t.Errorf("can-i %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
			}
		}
		// And a real request, not only can-i.
		out, err := e2ekit.Kubectl(cluster, kubeconfig, "run", "intruder", "-n", "kube-system", "--image", "registry.example.org/x:1", "--dry-run=server")
		if err == nil || !strings.Contains(out, "forbidden") {
			t.Errorf("creating a Pod in kube-system: %v\n%s", err, out)
		}
	})

	t.Run("a build with a Secret and a test service, then nothing left", func(t *testing.T) {
		dir := service(t, "nsvc", `env: TOKEN: {secret: "nsvc-secrets", key: "token"}
	secrets: "nsvc-secrets": ["token"]
	services: db: {image: "registry.example.org/db", tag: "1", ports: pg: 5432}
	annotations: "kwok.test/exit-code": "3"`)
		cmd := exec.Command(envgen, "run", "--namespace", buildNamespace, "--build-id", "ns-1", "--secret", "nsvc-secrets/token=env:NS_TOKEN", dir)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "NS_TOKEN=s3cret-value")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 3 {
			t.Fatalf("exit %v, want the build's 3\n%s", err, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), "s3cret-value") {
			t.Error("the Secret's value was printed")
		}
		wantNothingLeft(t, ctx, "nsvc")
		if _, err := cluster.Client.CoreV1().Namespaces().Get(ctx, buildNamespace, metav1.GetOptions{}); err != nil {
			t.Errorf("the shared namespace: %v", err)
		}
	})

	t.Run("builds of one service take turns", func(t *testing.T) {
		dir := service(t, "turns", `annotations: "kwok.test/delay": "4s"`)
		first := exec.Command(envgen, "run", "--namespace", buildNamespace, "--build-id", "turn-a", dir)
		first.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		var firstErr bytes.Buffer
		first.Stderr = &firstErr
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := cluster.Client.CoreV1().Pods(buildNamespace).Get(ctx, "turns-ci-build", metav1.GetOptions{}); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the first build's Pod never appeared\n%s", firstErr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		second := e2ekit.Run(t, envgen, kubeconfig, "run", "--namespace", buildNamespace, "--build-id", "turn-b", dir)
		if err := first.Wait(); err != nil {
			t.Fatalf("first build: %v\n%s", err, firstErr.String())
		}
		e2ekit.WantCode(t, second, 0)
		e2ekit.WantContains(t, "stderr", second.Stderr, "waiting for build turn-a of turns to finish in namespace team-builds")
		if second.Took < 2*time.Second {
			t.Errorf("the second build took %s: it did not wait for the first", second.Took)
		}
		wantNothingLeft(t, ctx, "turns")
	})

	t.Run("an object that is not a run's is never taken over", func(t *testing.T) {
		foreign := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "taken", Labels: map[string]string{"team": "other"}},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 1234}}},
		}
		if _, err := cluster.Client.CoreV1().Services(buildNamespace).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cluster.Client.CoreV1().Services(buildNamespace).Delete(ctx, "taken", metav1.DeleteOptions{})
		r := e2ekit.Run(t, envgen, kubeconfig, "run", "--namespace", buildNamespace, "--build-id", "taken-1", service(t, "taken", ""))
		e2ekit.WantCode(t, r, 125)
		e2ekit.WantContains(t, "stderr", r.Stderr, "applying Service taken: namespace team-builds already has one that envgen run did not create")
		got, err := cluster.Client.CoreV1().Services(buildNamespace).Get(ctx, "taken", metav1.GetOptions{})
		if err != nil || got.Labels["team"] != "other" || got.Spec.Ports[0].Port != 1234 || len(got.ManagedFields) != 1 {
			t.Errorf("the other team's Service was changed: %v %+v", err, got)
		}
		wantNothingLeft(t, ctx, "taken")
	})

	t.Run("a dead build's turn is taken over and what it left deleted", func(t *testing.T) {
		stale := metav1.NewMicroTime(time.Now().Add(-5 * time.Minute))
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: runner.LeaseName("stale"), Labels: map[string]string{runner.ManagedByLabel: runner.ManagedByValue}},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("dead-build"), LeaseDurationSeconds: ptr.To(int32(30)), RenewTime: &stale, AcquireTime: &stale},
		}
		if _, err := cluster.Client.CoordinationV1().Leases(buildNamespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		leftover := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stale-leftover", Labels: map[string]string{
			runner.ManagedByLabel: runner.ManagedByValue, "app.kubernetes.io/name": "stale", runner.BuildIDLabel: "dead-build"}}}
		if _, err := cluster.Client.CoreV1().ConfigMaps(buildNamespace).Create(ctx, leftover, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Something of the same service that a run did not make (kubectl
		// apply -k of the tree): never deleted.
		applied := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stale-applied", Labels: map[string]string{
			runner.ManagedByLabel: runner.ManagedByValue, "app.kubernetes.io/name": "stale"}}}
		if _, err := cluster.Client.CoreV1().ConfigMaps(buildNamespace).Create(ctx, applied, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cluster.Client.CoreV1().ConfigMaps(buildNamespace).Delete(ctx, "stale-applied", metav1.DeleteOptions{})
		r := e2ekit.Run(t, envgen, kubeconfig, "run", "--namespace", buildNamespace, "--build-id", "stale-1", service(t, "stale", ""))
		e2ekit.WantCode(t, r, 0)
		e2ekit.WantContains(t, "stderr", r.Stderr, "build dead-build of stale stopped renewing Lease envgen-stale: taking over")
		if _, err := cluster.Client.CoreV1().ConfigMaps(buildNamespace).Get(ctx, "stale-leftover", metav1.GetOptions{}); err == nil {
			t.Error("the dead build's ConfigMap was left")
		}
		if _, err := cluster.Client.CoreV1().ConfigMaps(buildNamespace).Get(ctx, "stale-applied", metav1.GetOptions{}); err != nil {
			t.Errorf("a ConfigMap no run made was deleted: %v", err)
		}
		wantNothingLeft(t, ctx, "stale")
	})
}

// The isolation of a build in a shared namespace: another service's CI
// Secret, read through a patch the checks of plain variables never see,
// or another identity, is refused before anything is created; and a build
// cleans up only what its own build id created.
func TestNamespacedIsolation(t *testing.T) {
	const isoNamespace = "iso-builds"
	kubeconfig := e2ekit.NamespacedKubeconfig(t, cluster, envgen, "jenkins-iso", "envgen-iso", isoNamespace)
	ctx := context.Background()
	// Another service's CI Secret, as its build left it in the namespace.
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "payments-secrets"}, StringData: map[string]string{"token": "their-token"}}
	if _, err := cluster.Client.CoreV1().Secrets(isoNamespace).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer cluster.Client.CoreV1().Secrets(isoNamespace).Delete(ctx, "payments-secrets", metav1.DeleteOptions{})
	for _, tc := range []struct{ name, extra, want string }{
		{"envFrom", `environments: ci: patches: "Pod/iso-ci-build": spec: containers: [{name: "build", envFrom: [{secretRef: name: "payments-secrets"}]}]`,
			`Pod iso-ci-build reads Secret "payments-secrets" through envFrom (container build), which is not this build's`},
		{"projected", `environments: ci: patches: "Pod/iso-ci-build": spec: volumes: [{name: "x", projected: sources: [{secret: {name: "payments-secrets", optional: true}}]}]`,
			`Pod iso-ci-build mounts Secret "payments-secrets" (projected volume x)`},
		{"an objects Deployment", `objects: "Deployment/iso-helper": {apiVersion: "apps/v1", spec: {
	selector: matchLabels: app: "iso-helper"
	template: {metadata: labels: app: "iso-helper", spec: {
		securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: type: "RuntimeDefault"}
		containers: [{name: "h", image: "registry.example.org/h:1", securityContext: {allowPrivilegeEscalation: false, capabilities: drop: ["ALL"]},
			env: [{name: "T", valueFrom: secretKeyRef: {name: "payments-secrets", key: "token", optional: true}}]}]
	}}
}}`, `Deployment iso-helper reads Secret "payments-secrets" into T (container h)`},
		{"another identity", `serviceAccount: name: "envgen-iso"`, `runs as ServiceAccount "envgen-iso"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "name: \"iso\"\nimage: \"registry.example.org/iso\"\ntag: \"1.0\"\nsecurityContext: runAsUser: 1000\nci: command: [\"make\"]\n" + tc.extra + "\n"
			if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			r := e2ekit.Run(t, envgen, kubeconfig, "run", "--namespace", isoNamespace, "--build-id", "iso-1", dir)
			e2ekit.WantCode(t, r, 1)
			e2ekit.WantContains(t, "stderr", r.Stderr, tc.want)
			if strings.Contains(r.Stdout+r.Stderr, "their-token") {
				t.Error("the other service's Secret was printed")
			}
			if _, err := cluster.Client.CoordinationV1().Leases(isoNamespace).Get(ctx, runner.LeaseName("iso"), metav1.GetOptions{}); err == nil {
				t.Error("a refused build took a turn")
			}
		})
	}

	t.Run("cleanup takes only its own build's objects", func(t *testing.T) {
		dir := service(t, "own", `annotations: "kwok.test/delay": "3s"`)
		cmd := exec.Command(envgen, "run", "--namespace", isoNamespace, "--build-id", "own-1", dir)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForRunningBuild(t, isoNamespace, "own-ci-build")
		// What the next build would have made, had it taken this build's
		// turn while this one was frozen: another build id of the service.
		next := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "own-next", Labels: map[string]string{
			runner.ManagedByLabel: runner.ManagedByValue, "app.kubernetes.io/name": "own", runner.BuildIDLabel: "own-2"}}}
		if _, err := cluster.Client.CoreV1().ConfigMaps(isoNamespace).Create(ctx, next, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cluster.Client.CoreV1().ConfigMaps(isoNamespace).Delete(ctx, "own-next", metav1.DeleteOptions{})
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the build: %v\n%s", err, stderr.String())
		}
		if _, err := cluster.Client.CoreV1().ConfigMaps(isoNamespace).Get(ctx, "own-next", metav1.GetOptions{}); err != nil {
			t.Errorf("the build deleted another build's object at its cleanup: %v", err)
		}
		if _, err := cluster.Client.CoreV1().Pods(isoNamespace).Get(ctx, "own-ci-build", metav1.GetOptions{}); err == nil {
			t.Error("the build left its own Pod")
		}
	})
}

// wantNothingLeft wants no object a run created for service in the shared
// namespace, and no Lease: the next build need not wait.
func wantNothingLeft(t *testing.T, ctx context.Context, service string) {
	t.Helper()
	selector := metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + service + "," + runner.BuildIDLabel}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		pods, _ := cluster.Client.CoreV1().Pods(buildNamespace).List(ctx, selector)
		for _, p := range pods.Items {
			left = append(left, "pod/"+p.Name)
		}
		secrets, _ := cluster.Client.CoreV1().Secrets(buildNamespace).List(ctx, selector)
		for _, s := range secrets.Items {
			left = append(left, "secret/"+s.Name)
		}
		deployments, _ := cluster.Client.AppsV1().Deployments(buildNamespace).List(ctx, selector)
		for _, d := range deployments.Items {
			left = append(left, "deployment/"+d.Name)
		}
		services, _ := cluster.Client.CoreV1().Services(buildNamespace).List(ctx, selector)
		for _, s := range services.Items {
			left = append(left, "service/"+s.Name)
		}
		if _, err := cluster.Client.CoordinationV1().Leases(buildNamespace).Get(ctx, runner.LeaseName(service), metav1.GetOptions{}); err == nil {
			left = append(left, "lease/"+runner.LeaseName(service))
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left in %s: %v", buildNamespace, left)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
