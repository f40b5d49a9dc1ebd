package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations envgen puts on the namespaces it creates. gc
// selects on ManagedByLabel and never touches a namespace without it.
const (
	ManagedByLabel    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "envgen"
	ServiceLabel      = "envgen.dev/service"
	BuildIDLabel      = "envgen.dev/build-id"
	BuildIDAnnotation = "envgen.dev/build-id"
	ExpiresAnnotation = "envgen.dev/expires-at"
	// BuildPodsAnnotation is how many build Pods the run will create
	// (one, or one per stage): gc takes a build as over only once that
	// many exist and all have ended.
	BuildPodsAnnotation = "envgen.dev/build-pods"
	podSecurityEnforce  = "pod-security.kubernetes.io/enforce"
	podSecurityVersion  = "pod-security.kubernetes.io/enforce-version"
	maxNamespaceNameLen = 63
)

var (
	notDNS        = regexp.MustCompile(`[^a-z0-9-]+`)
	notLabelValue = regexp.MustCompile(`[^-_.a-zA-Z0-9]+`)
)

// NamespaceName names the namespace of one build: readable (service, "ci",
// the build id) and unique, because a hash of the exact service and build
// id ends it: build ids that sanitise alike ("PR_1", "pr-1") or that are
// cut to fit 63 characters still get different namespaces.
func NamespaceName(service, buildID string) string {
	sum := sha256.Sum256([]byte(service + "\x00" + buildID))
	suffix := hex.EncodeToString(sum[:])[:8]
	readable := sanitizeLabel(service + "-ci-" + buildID)
	if max := maxNamespaceNameLen - len(suffix) - 1; len(readable) > max {
		readable = strings.TrimRight(readable[:max], "-")
	}
	return readable + "-" + suffix
}

// sanitizeLabel lowercases s and turns runs of other characters into "-".
func sanitizeLabel(s string) string {
	s = notDNS.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if s == "" {
		return "build"
	}
	return s
}

// labelValue fits s into a label value (63 characters of [-_.a-zA-Z0-9]).
func labelValue(s string) string {
	s = notLabelValue.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

// createNamespace creates the build's namespace. It never adopts an
// existing one: if the name is taken, the build fails.
func createNamespace(ctx context.Context, client *Core, name, service, buildID string, expires time.Time, buildPods int) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			ManagedByLabel:     ManagedByValue,
			ServiceLabel:       labelValue(service),
			BuildIDLabel:       labelValue(buildID),
			podSecurityEnforce: "restricted",
			podSecurityVersion: "latest",
		},
		Annotations: map[string]string{
			BuildIDAnnotation:   buildID,
			ExpiresAnnotation:   expires.UTC().Format(time.RFC3339),
			BuildPodsAnnotation: strconv.Itoa(buildPods),
		},
	}}
	err := retry(ctx, func(retrying bool) error {
		err := client.CreateNamespace(ctx, ns.DeepCopy(), metav1.CreateOptions{FieldManager: FieldManager})
		if retrying && apierrors.IsAlreadyExists(err) && createdByThisRun(ctx, client, name, buildID) {
			return nil // the first attempt created it; its answer was lost
		}
		return err
	})
	if apierrors.IsAlreadyExists(err) {
		return &ClusterError{Op: "creating namespace " + name, Err: fmt.Errorf("it already exists; envgen never reuses a namespace (is build id %q running already?)", buildID)}
	}
	if err != nil {
		return &ClusterError{Op: "creating namespace " + name, Err: err}
	}
	return nil
}

// createdByThisRun says whether the namespace that exists is the one an
// earlier attempt of this run created: envgen's, for this build id.
func createdByThisRun(ctx context.Context, client *Core, name, buildID string) bool {
	list, err := client.ListNamespaces(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil || len(list.Items) != 1 {
		return false
	}
	ns := list.Items[0]
	return ns.Labels[ManagedByLabel] == ManagedByValue && ns.Annotations[BuildIDAnnotation] == buildID && ns.DeletionTimestamp == nil
}

// deleteNamespace deletes the namespace and everything in it, trying
// again for as long as ctx (cleanup's budget) lasts while the API server
// is away: a delete is safe to repeat, and a namespace left behind waits
// for envgen gc. Any failure that is not the API server's answer (a
// connection closed, a GOAWAY, a timeout) counts as "away". The cluster
// finishes the deletion; envgen does not wait for it.
func deleteNamespace(ctx context.Context, client *Core, name string) error {
	policy := metav1.DeletePropagationBackground
	err := retryIdempotent(ctx, func() error {
		return client.DeleteNamespace(ctx, name, metav1.DeleteOptions{PropagationPolicy: &policy})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}
