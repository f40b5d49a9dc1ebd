package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/manifests"
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
		// Nothing in anyone else's namespace: the account's rights there
		// are the ones a run binds in its own build namespace.
		{[]string{"list", "pods", "--all-namespaces"}, "no"},
		{[]string{"get", "pods", "--subresource=log", "-n", "team-a"}, "no"},
		{[]string{"list", "events", "-n", "team-a"}, "no"},
		{[]string{"get", "configmaps", "--all-namespaces"}, "no"},
		{[]string{"create", "pods", "-n", "kube-system"}, "no"},
		{[]string{"create", "pods", "--subresource=exec", "-n", "team-a"}, "no"},
		{[]string{"get", "pods", "--subresource=exec", "-n", "kube-system"}, "no"},
		{[]string{"bind", "clusterrole/cluster-admin"}, "no"},
		// Nodes are listed, to tell a request no node can hold from a
		// full cluster; nothing of a node can be changed or proxied.
		{[]string{"list", "nodes"}, "yes"},
		{[]string{"patch", "nodes"}, "no"},
		{[]string{"update", "nodes", "--subresource=status"}, "no"},
		{[]string{"get", "nodes", "--subresource=proxy"}, "no"},
		{[]string{"bind", "clusterrole/" + runner.BuildRoleName}, "yes"},
		// A build namespace's fence is created once, never loosened.
		{[]string{"delete", "resourcequotas", "-n", "team-a"}, "no"},
		{[]string{"patch", "resourcequotas", "-n", "team-a"}, "no"},
		{[]string{"update", "limitranges", "-n", "team-a"}, "no"},
		{[]string{"delete", "limitranges", "-n", "team-a"}, "no"},
		// RBAC cannot confine these to envgen's namespaces: the
		// admission guard does, below.
		{[]string{"delete", "namespaces"}, "yes"},
		{[]string{"create", "rolebindings", "-n", "team-a"}, "yes"},
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
	// (And the policies that want a fence before a Pod leave Pods outside
	// envgen's namespaces alone: bound to every namespace, they refused
	// this one.)
	kubectl(t, "run", "their-app", "--image=registry.example.org/app:1", "-n", "team-a")
	unlabelled := filepath.Join(t.TempDir(), "not-a-build.yaml")
	if err := os.WriteFile(unlabelled, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: not-a-build-ci-1-00000000\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Then real requests (server-side dry-run: admission runs, nothing
	// changes even if the guard failed): the admission guard refuses every
	// one RBAC lets through outside envgen's namespaces, RBAC the rest.
	forbidden := `is forbidden: User "system:serviceaccount:jenkins:envgen" cannot`
	for _, check := range []struct {
		args []string
		want string
	}{
		{[]string{"delete", "namespace", "team-a"}, "envgen may create and delete only namespaces labelled app.kubernetes.io/managed-by=envgen"},
		{[]string{"delete", "namespace", "jenkins"}, "envgen may create and delete only namespaces labelled"},
		// Restricted, so that only the guard refuses it (the box refuses a
		// namespace without the label too, and either may answer first).
		{[]string{"create", "-f", unlabelled}, "envgen may create and delete only namespaces labelled"},
		// Binding its build rights to itself outside a build namespace.
		{[]string{"create", "rolebinding", "x", "--clusterrole=" + runner.BuildRoleName, "--serviceaccount=jenkins:envgen", "-n", "team-a"}, "envgen may change objects only in namespaces labelled"},
		// Binding a role it may not bind, even in a build namespace.
		{[]string{"create", "rolebinding", "x", "--clusterrole=cluster-admin", "--serviceaccount=jenkins:envgen", "-n", "team-a"}, "is forbidden"},
		{[]string{"run", "intruder", "--image=registry.example.org/x:1", "-n", "kube-system"}, forbidden + ` create resource "pods"`},
		{[]string{"create", "configmap", "x", "-n", "default"}, forbidden + ` create resource "configmaps"`},
		{[]string{"create", "secret", "generic", "x", "--from-literal=a=b", "-n", "jenkins"}, forbidden + ` create resource "secrets"`},
		{[]string{"label", "service", "kubernetes", "-n", "default", "x=y"}, forbidden},
		{[]string{"logs", "their-app", "-n", "team-a"}, forbidden},
		// exec has no dry-run; RBAC refuses it before it connects.
		{[]string{"exec", "their-app", "-n", "team-a", "--", "cat", "/etc/hostname"}, forbidden},
	} {
		args := check.args
		if args[0] != "exec" && args[0] != "logs" {
			args = append(args, "--dry-run=server")
		}
		out, err := kubectlAs(kubeconfig, args...)
		if err == nil || !strings.Contains(out, check.want) {
			t.Errorf("kubectl %v as envgen: %v\n%s\nwant refused: %q", check.args, err, out, check.want)
		}
	}
}

// TestBuildsStayInTheirBox: what a pull request's envgen.cue could ask for
// through objects and patches, sent as the CI account itself into a build
// namespace of its own, is refused by the API server (the box policy
// envgen rbac prints), whatever envgen checks first; an ordinary build Pod
// is not.
func TestBuildsStayInTheirBox(t *testing.T) {
	kubeconfig := e2ekit.LeastPrivilegeKubeconfig(t, cluster, envgen, "jenkins-box", "envgen")
	dir := t.TempDir()
	apply := func(name, manifest string) (string, error) {
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		return kubectlAs(kubeconfig, "create", "--dry-run=server", "-f", file)
	}
	namespace := func(name, level string) string {
		return `apiVersion: v1
kind: Namespace
metadata:
  name: ` + name + `
  labels: {app.kubernetes.io/managed-by: envgen, pod-security.kubernetes.io/enforce: ` + level + `}
`
	}
	// The policy loads asynchronously: wait until it refuses a privileged
	// build namespace.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := apply("privileged", namespace("box-privileged-ci-1-00000000", "privileged"))
		if err != nil && strings.Contains(out, "a build namespace enforces Pod Security restricted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a privileged build namespace was not refused 30s after kubectl apply: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := apply("baseline", namespace("box-baseline-ci-1-00000000", "baseline")); err == nil || !strings.Contains(out, "enforces Pod Security restricted") {
		t.Errorf("a baseline build namespace: %v\n%s", err, out)
	}
	// Another team's name, taken before them.
	if out, err := apply("squat", namespace("payments-prod", "restricted")); err == nil || !strings.Contains(out, "a build namespace is named as envgen names them") {
		t.Errorf("a build namespace of another team's name: %v\n%s", err, out)
	}
	// A real build namespace to try the rest in.
	file := filepath.Join(dir, "ns.yaml")
	if err := os.WriteFile(file, []byte(namespace("box-build-ci-1-00000000", "restricted")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlAs(kubeconfig, "apply", "-f", file); err != nil {
		t.Fatalf("the CI account cannot create a restricted build namespace: %v\n%s", err, out)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "box-build-ci-1-00000000", "--wait=false") })
	// The account's rights there are the ones it binds to itself, as a
	// run does; the box refuses any other binding (below).
	if out, err := kubectlAs(kubeconfig, "create", "rolebinding", runner.BuildRoleName, "--clusterrole="+runner.BuildRoleName,
		"--serviceaccount=jenkins-box:envgen", "-n", "box-build-ci-1-00000000"); err != nil {
		t.Fatalf("the CI account cannot bind its build rights in its build namespace: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := kubectlAs(kubeconfig, "auth", "can-i", "create", "pods", "-n", "box-build-ci-1-00000000")
		if strings.TrimSpace(out) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bound, but the CI account still may not create Pods in its build namespace: %s", out)
		}
	}

	pod := func(extra string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: box-build-ci-1-00000000}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: registry.example.org/x:1
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
` + extra
	}
	// The account's Pods run only in a namespace fenced in by envgen:
	// none here yet.
	probePod := strings.Replace(pod(""), "name: probe,", "name: early,", 1)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := apply("early", probePod)
		// Either policy may answer first: each wants its own part of the fence.
		if err != nil && (strings.Contains(out, "'envgen-runner-quota'") || strings.Contains(out, "'envgen-runner-network'")) &&
			strings.Contains(out, "no params found") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a Pod in a namespace without the fence: %v\n%s", err, out)
		}
	}
	// Fenced in as a run does it, as the account.
	var fence bytes.Buffer
	for _, obj := range runner.Fence("box-build-ci-1-00000000", runner.DefaultQuota(), runner.Egress{}) {
		data, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		fence.WriteString("---\n")
		fence.Write(append(data, '\n'))
	}
	fenceFile := filepath.Join(dir, "fence.yaml")
	if err := os.WriteFile(fenceFile, fence.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlAs(kubeconfig, "create", "-f", fenceFile); err != nil {
		t.Fatalf("the account cannot fence its namespace in: %v\n%s", err, out)
	}
	if out, err := apply("pod", pod("")); err != nil {
		t.Fatalf("an ordinary build Pod is refused: %v\n%s", err, out)
	}
	binding := func(kind, name, namespace string) string {
		subject := "{kind: " + kind + ", name: " + name
		if namespace != "" {
			subject += ", namespace: " + namespace
		} else {
			subject += ", apiGroup: rbac.authorization.k8s.io"
		}
		return "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: more, namespace: box-build-ci-1-00000000}\n" +
			"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + runner.BuildRoleName + "}\nsubjects:\n- " + subject + "}\n"
	}
	quota := func(hard string) string {
		return "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: box-build-ci-1-00000000}\nspec: {hard: " + hard + "}\n"
	}
	if out, err := apply("quota", quota("{requests.cpu: 8, requests.memory: 16Gi, pods: '20'}")); err != nil {
		t.Fatalf("a quota at the ceiling is refused: %v\n%s", err, out)
	}
	for _, tc := range []struct{ name, manifest, want string }{
		{"nodeName", pod("  nodeName: some-node\n"), "no nodeName"},
		{"priority", pod("  priorityClassName: system-node-critical\n"), "only the priority classes the platform allows"},
		{"deadline", pod("  activeDeadlineSeconds: 999999\n"), "activeDeadlineSeconds is at most 86400"},
		{"tolerate-all", pod("  tolerations: [{operator: Exists}]\n"), "never every taint or the control plane's"},
		{"control-plane", pod("  tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n"), "never every taint or the control plane's"},
		{"finalizer", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: box-build-ci-1-00000000, finalizers: [example.org/hold]}\n", "no finalizers"},
		{"nodeport", "apiVersion: v1\nkind: Service\nmetadata: {name: np, namespace: box-build-ci-1-00000000}\nspec: {type: NodePort, ports: [{port: 80}]}\n", "ClusterIP, without externalIPs"},
		{"externalips", "apiVersion: v1\nkind: Service\nmetadata: {name: eip, namespace: box-build-ci-1-00000000}\nspec: {externalIPs: [10.0.0.1], ports: [{port: 80}]}\n", "ClusterIP, without externalIPs"},
		{"network-policy", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: open, namespace: box-build-ci-1-00000000}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n",
			"a build namespace's one NetworkPolicy is envgen's fence"},
		{"bind-everyone", binding("Group", "system:authenticated", ""), "gives envgen-runner-build to the CI account itself, nothing else to anyone"},
		{"bind-another-account", binding("ServiceAccount", "default", "box-build-ci-1-00000000"), "gives envgen-runner-build to the CI account itself"},
		{"bind-two", binding("ServiceAccount", "envgen", "jenkins-box") + "- {kind: ServiceAccount, name: default, namespace: box-build-ci-1-00000000}\n", "gives envgen-runner-build to the CI account itself"},
		{"quota-over-ceiling", quota("{requests.cpu: '100', requests.memory: 1Gi, pods: '5'}"), "each within the platform's ceiling cpu=8,memory=16Gi,pods=20"},
		{"quota-without-pods", quota("{requests.cpu: '1', requests.memory: 1Gi}"), "each within the platform's ceiling"},
		{"replicas", `apiVersion: apps/v1
kind: Deployment
metadata: {name: many, namespace: box-build-ci-1-00000000}
spec:
  replicas: 21
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: registry.example.org/x:1}]
`, "at most 20 replicas"},
		{"deployment-node", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: box-build-ci-1-00000000}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      nodeName: some-node
      containers: [{name: c, image: registry.example.org/x:1}]
`, "no nodeName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := apply(tc.name, tc.manifest)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("accepted, or refused for another reason: %v\n%s\nwant %q", err, out, tc.want)
			}
		})
	}
	// exec, which RBAC grants for the artifacts' tar, runs nothing else
	// (exec has no dry-run: admission refuses before it connects; tar
	// itself is let through in e2e/realnode's TestArtifactsAndJUnit).
	withArtifacts := pod("") + `  - name: ` + manifests.ArtifactsContainer + `
    image: registry.example.org/x:1
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`
	file = filepath.Join(dir, "exec-pod.yaml")
	if err := os.WriteFile(file, []byte(withArtifacts), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlAs(kubeconfig, "apply", "-f", file); err != nil {
		t.Fatalf("an ordinary build Pod is refused: %v\n%s", err, out)
	}
	for _, command := range [][]string{
		{"-c", "c", "--", "tar", "-cf", "-", "/etc"},
		{"-c", manifests.ArtifactsContainer, "--", "sh", "-c", "tar -cf - /etc"},
		{"-c", manifests.ArtifactsContainer, "--", "cat", "/etc/hostname"},
		// tar with an option that runs a program.
		{"-c", manifests.ArtifactsContainer, "--", "tar", "-cf", "-", "-C", "/", "./tmp", "--to-command=sh"},
	} {
		out, err := kubectlAs(kubeconfig, append([]string{"exec", "probe", "-n", "box-build-ci-1-00000000"}, command...)...)
		if err == nil || !strings.Contains(out, "exec into a build Pod runs tar in its artifacts container only") {
			t.Errorf("kubectl exec %v as envgen: %v\n%s\nwant refused by the box", command, err, out)
		}
	}
	// A toleration added to a Pod that exists, to reach where the rule at
	// creation kept it from.
	out, err := kubectlAs(kubeconfig, "patch", "pod", "probe", "-n", "box-build-ci-1-00000000", "--type=json", "--dry-run=server",
		"-p", `[{"op":"add","path":"/spec/tolerations/-","value":{"operator":"Exists"}}]`)
	if err == nil || !strings.Contains(out, "never every taint or the control plane's") {
		t.Errorf("a toleration of every taint patched in: %v\n%s", err, out)
	}
}
