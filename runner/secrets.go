package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/sorted"
)

// maxSecretBytes is the most a Secret may hold: kube-apiserver refuses
// objects over 1 MiB, and the metadata needs some of it.
const maxSecretBytes = 1<<20 - 16<<10

// Secrets are the build's Secrets with their values: name → key → value.
// They exist only in memory and in the build's namespace.
type Secrets map[string]map[string][]byte

// SecretsError says that the command line does not give the Secrets
// envgen.cue declares, or gives others: a usage error.
type SecretsError struct{ msg string }

func (e *SecretsError) Error() string { return e.msg }

func secretsError(format string, args ...any) error {
	return &SecretsError{msg: fmt.Sprintf(format, args...)}
}

// CollectSecrets reads the value of every key ci.secrets declares from the
// sources the command line names, one "NAME/KEY=env:VARIABLE" or
// "NAME/KEY=file:PATH" per key (Jenkins' withCredentials puts a credential
// in a variable, or a file whose path is in a variable). Every declared key
// needs a source and every source a declared key. Errors name the Secret,
// the key and the source, never a value.
func CollectSecrets(declared map[string][]string, specs []string, lookupEnv func(string) (string, bool)) (Secrets, error) {
	wanted := map[string]bool{}
	for name, keys := range declared {
		for _, key := range keys {
			wanted[name+"/"+key] = true
		}
	}
	out := Secrets{}
	given := map[string]bool{}
	for i, spec := range specs {
		ref, source, ok := strings.Cut(spec, "=")
		name, key, okRef := strings.Cut(ref, "/")
		if !ok || !okRef || name == "" || key == "" {
			known := map[string]bool{}
			for secret := range declared {
				known[secret] = true
			}
			return nil, secretsError("--secret %s: want NAME/KEY=env:VARIABLE or NAME/KEY=file:PATH", specShown(spec, i, known))
		}
		if !wanted[ref] {
			// Not a name envgen.cue knows, so perhaps a value: not shown.
			return nil, secretsError("the %s --secret (not shown: it may be a value): envgen.cue's ci.secrets declares no such NAME/KEY%s", ordinal(i), declaredList(declared))
		}
		if given[ref] {
			return nil, secretsError("--secret %s is given twice", ref)
		}
		given[ref] = true
		value, err := readSecretSource(ref, source, lookupEnv)
		if err != nil {
			return nil, err
		}
		if out[name] == nil {
			out[name] = map[string][]byte{}
		}
		out[name][key] = value
	}
	for _, ref := range sorted.Keys(wanted) {
		if !given[ref] {
			return nil, secretsError("envgen.cue's ci.secrets declares %s: pass it with --secret %s=env:VARIABLE (or =file:PATH)", ref, ref)
		}
	}
	for name, keys := range out {
		size := 0
		for _, v := range keys {
			size += len(v)
		}
		if size > maxSecretBytes {
			return nil, secretsError("Secret %s: its values are %d bytes together; a Secret holds at most %d", name, size, maxSecretBytes)
		}
	}
	return out, nil
}

func readSecretSource(ref, source string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	return readSource("--secret", ref, source, lookupEnv)
}

// readSource reads a value from env:VARIABLE or file:PATH; flag and ref
// name it in errors, which never hold the value.
func readSource(flag, ref, source string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	kind, where, _ := strings.Cut(source, ":")
	switch kind {
	case "env":
		value, ok := lookupEnv(where)
		if !ok || value == "" {
			return nil, secretsError("%s %s: environment variable %s is not set or empty", flag, ref, where)
		}
		return []byte(value), nil
	case "file":
		return readSecretFile(flag, ref, where)
	}
	return nil, secretsError("%s %s: its source is neither env:VARIABLE nor file:PATH (not shown: it may be the value itself, which belongs in a variable or a file)", flag, ref)
}

// specShown is as much of a malformed --secret or --build-secret as an
// error may print: what comes before "=", never what follows it (a value
// given in place of its source), and nothing of one without "=" (it may
// be a value given alone).
func specShown(spec string, i int, known map[string]bool) string {
	ref, _, ok := strings.Cut(spec, "=")
	switch {
	case !ok:
		return fmt.Sprintf("(the %s, given without \"=\"; not shown: it may be a value)", ordinal(i))
	case !known[ref]:
		return fmt.Sprintf("(the %s; not shown: what comes before \"=\" is no name envgen.cue declares, and may be a value)", ordinal(i))
	}
	return strconv.Quote(ref) + "=…"
}

// ordinal names the i-th (from 0) of a repeated flag.
func ordinal(i int) string {
	n := i + 1
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}

// readSecretFile reads a regular file of at most maxSecretBytes.
func readSecretFile(flag, ref, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, secretsError("%s %s: %v", flag, ref, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, secretsError("%s %s: %v", flag, ref, err)
	}
	if !info.Mode().IsRegular() {
		return nil, secretsError("%s %s: %s is not a regular file", flag, ref, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return nil, secretsError("%s %s: %v", flag, ref, err)
	}
	if len(data) > maxSecretBytes {
		return nil, secretsError("%s %s: %s is larger than a Secret may be (%d bytes)", flag, ref, path, maxSecretBytes)
	}
	return data, nil
}

// CollectBuildSecrets reads the value of every build secret build.secrets
// declares, one "ID=env:VARIABLE" or "ID=file:PATH" per id, as
// CollectSecrets does for ci.secrets: every declared id needs a source
// and every source a declared id.
func CollectBuildSecrets(declared []string, specs []string, lookupEnv func(string) (string, bool)) (map[string][]byte, error) {
	out := map[string][]byte{}
	for i, spec := range specs {
		id, source, ok := strings.Cut(spec, "=")
		known := map[string]bool{}
		for _, d := range declared {
			known[d] = true
		}
		if !ok || id == "" {
			return nil, secretsError("--build-secret %s: want ID=env:VARIABLE or ID=file:PATH", specShown(spec, i, known))
		}
		if !slices.Contains(declared, id) {
			list := " (it declares none)"
			if len(declared) > 0 {
				list = " (it declares " + strings.Join(declared, ", ") + ")"
			}
			return nil, secretsError("the %s --build-secret (not shown: it may be a value): envgen.cue's build.secrets declares no such id%s", ordinal(i), list)
		}
		if _, dup := out[id]; dup {
			return nil, secretsError("--build-secret %s is given twice", id)
		}
		value, err := readSource("--build-secret", id, source, lookupEnv)
		if err != nil {
			return nil, err
		}
		out[id] = value
	}
	for _, id := range declared {
		if _, ok := out[id]; !ok {
			return nil, secretsError("envgen.cue's build.secrets declares %s: pass it with --build-secret %s=env:VARIABLE (or =file:PATH)", id, id)
		}
	}
	return out, nil
}

func declaredList(declared map[string][]string) string {
	if len(declared) == 0 {
		return " (it declares none)"
	}
	var refs []string
	for _, name := range sorted.Keys(declared) {
		for _, key := range declared[name] {
			refs = append(refs, name+"/"+key)
		}
	}
	return " (it declares " + strings.Join(refs, ", ") + ")"
}

// createSecrets creates the build's Secrets in its namespace, immutable.
func createSecrets(ctx context.Context, client *Core, namespace string, secrets Secrets, labels map[string]string) error {
	for _, name := range sorted.Keys(secrets) {
		secret := &corev1.Secret{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      name,
				Namespace: namespace,
				Labels:    labels,
			},
			Type:      corev1.SecretTypeOpaque,
			Immutable: ptrTo(true),
			Data:      secrets[name],
		}
		err := retry(ctx, func(retrying bool) error {
			err := client.CreateSecret(ctx, secret)
			if retrying && apierrors.IsAlreadyExists(err) {
				return nil // the Secret carries this build's id: the first attempt made it
			}
			return err
		})
		if err != nil {
			// The error is the API server's; it never holds the values.
			return &ClusterError{Op: "creating Secret " + name, Err: err}
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
