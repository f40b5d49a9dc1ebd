package compiler

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// Limits kube-apiserver enforces on what envgen derives from envgen.cue.
// Refusing here names the envgen.cue position; the API server would name a
// generated field instead, at apply time.
const (
	maxObjectName      = 63        // a DNS label: Service names, label values
	maxAnnotationBytes = 256 << 10 // all annotations of one object together
	// maxConfigMapBytes leaves room under the API server's 1 MiB for the
	// object's metadata.
	maxConfigMapBytes = 1<<20 - 16<<10
)

// restrictedAnnotationPrefixes are annotations that set a Pod's security
// profile beside its securityContext: with them an annotation could undo
// the restricted profile envgen gives every Pod.
var restrictedAnnotationPrefixes = []string{
	"container.apparmor.security.beta.kubernetes.io/",
	"seccomp.security.alpha.kubernetes.io/",
	"container.seccomp.security.alpha.kubernetes.io/",
}

// configKeyPattern is what a ConfigMap key may be; a file's base name
// becomes one.
var configKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// checkApplyable refuses what kube-apiserver would refuse, or what would
// weaken the restricted profile, at the envgen.cue position that causes it.
func checkApplyable(s *model.Service, fail func(field, msg string) error) error {
	for _, p := range sorted.Keys(s.Files) {
		field := fmt.Sprintf("files.%q", p)
		if p == "/tmp" {
			return fail(field, "/tmp is where envgen mounts the writable scratch directory; put the file in a directory of its own")
		}
		if key := s.FileKey(p); !configKeyPattern.MatchString(key) || len(key) > 253 || strings.HasPrefix(key, "..") {
			if key == path.Base(p) {
				return fail(field, fmt.Sprintf("file name %q can only have ASCII letters, digits, '-', '_' and '.' (it becomes a ConfigMap key), not starting with ..", key))
			}
			return fail(field, fmt.Sprintf("another file is named %s too, so this one's ConfigMap key is its path, %q, which can only have ASCII letters, digits, '-', '_' and '.' (at most 253), not starting with ..", path.Base(p), key))
		}
	}
	if err := checkFileSecrets(s, fail); err != nil {
		return err
	}
	if err := checkWritable("writable", s.Writable, s.Files, fail); err != nil {
		return err
	}
	if err := checkMounts(s, fail); err != nil {
		return err
	}
	if err := checkScheduling(s.Scheduling, fail); err != nil {
		return err
	}
	if err := checkLabels(s.Labels, fail); err != nil {
		return err
	}
	if err := checkToken(s, fail); err != nil {
		return err
	}
	if err := checkPreStopSleeps(s, fail); err != nil {
		return err
	}
	size := 0
	for p, content := range s.Files {
		size += len(s.FileKey(p)) + len(content)
	}
	if size > maxConfigMapBytes {
		return fail("files", fmt.Sprintf("the files are %d bytes together; a ConfigMap holds at most %d", size, maxConfigMapBytes))
	}
	if err := uniquePorts("ports", s.Ports, fail); err != nil {
		return err
	}
	if err := checkServiceShape(s, fail); err != nil {
		return err
	}
	if r := s.Rollout; isZero(r.MaxSurge) && isZero(r.MaxUnavailable) && r.MaxSurge != nil && r.MaxUnavailable != nil {
		return fail("rollout.maxUnavailable", "maxSurge and maxUnavailable are both zero: the rollout could never replace a Pod")
	}
	if err := checkAnnotations("annotations", s.Annotations, fail); err != nil {
		return err
	}
	for _, name := range sorted.Keys(s.Egress) {
		if err := checkCIDRs("egress."+Label(name), s.Egress[name].CIDRs, fail); err != nil {
			return err
		}
	}
	for _, name := range sorted.Keys(s.Ingress) {
		if err := checkCIDRs("ingress."+Label(name), s.Ingress[name].CIDRs, fail); err != nil {
			return err
		}
	}
	if s.CI == nil {
		return nil
	}
	if err := checkAnnotations("ci.annotations", s.CI.Annotations, fail); err != nil {
		return err
	}
	for _, name := range sorted.Keys(s.CI.Services) {
		field := "ci.services." + Label(name)
		objectName := manifests.TestServiceName(s.Name, name)
		if objectName == manifests.BuildPodName(s.Name) {
			return fail(field, fmt.Sprintf("a test service named %q would share its name and labels with the build Pod %s; choose another name", name, objectName))
		}
		for stage := range s.CI.Stages {
			if objectName == manifests.StagePodName(s.Name, stage) {
				return fail(field, fmt.Sprintf("a test service named %q would share its name and labels with the Pod of stage %q; choose another name", name, stage))
			}
		}
		if len(objectName) > maxObjectName {
			return fail(field, fmt.Sprintf("the test service's objects would be named %q (%d characters; Kubernetes allows %d): shorten name or the test service's name", objectName, len(objectName), maxObjectName))
		}
		if err := uniquePorts(field+".ports", s.CI.Services[name].Ports, fail); err != nil {
			return err
		}
		if err := checkWritable(field+".writable", s.CI.Services[name].Writable, nil, fail); err != nil {
			return err
		}
	}
	return nil
}

// checkServiceShape wants service.ports to name ports, node ports only
// where the Service has them, and no two exposed ports on one port and
// protocol, or one node port, as kube-apiserver does.
func checkServiceShape(s *model.Service, fail func(field, msg string) error) error {
	nodePorts := s.Service.Type == "NodePort" || s.Service.Type == "LoadBalancer"
	podPorts := s.PodPorts()
	for _, name := range sorted.Keys(s.Service.Ports) {
		field := "service.ports." + Label(name)
		if _, ok := podPorts[name]; !ok {
			return fail(field, fmt.Sprintf("no port named %q in the Pod's ports%s", name, portList(podPorts)))
		}
		if s.Service.Ports[name].NodePort != 0 && !nodePorts {
			return fail(field+".nodePort", fmt.Sprintf("a node port needs service.type NodePort or LoadBalancer, not %s", orDefault(s.Service.Type, "ClusterIP")))
		}
	}
	if s.Service.Type == "None" {
		return nil
	}
	taken, nodeTaken := map[string]string{}, map[int32]string{}
	for _, name := range s.Exposed() {
		shape := s.Service.Ports[name]
		port := podPorts[name]
		field := portField(s, name)
		if shape.Port != 0 {
			port, field = shape.Port, "service.ports."+Label(name)+".port"
		}
		key := fmt.Sprintf("%d/%s", port, s.Protocol(name))
		if other, ok := taken[key]; ok {
			return fail(field, fmt.Sprintf("the Service would expose %s and %s both on %s; each needs its own port", other, name, key))
		}
		taken[key] = name
		if n := shape.NodePort; n != 0 {
			if r := s.NodePortRange(); n < r.Min || n > r.Max {
				return fail("service.ports."+Label(name)+".nodePort", nodePortOutside(n, r))
			}
			if other, ok := nodeTaken[n]; ok {
				return fail("service.ports."+Label(name)+".nodePort", fmt.Sprintf("node port %d is also %s's", n, other))
			}
			nodeTaken[n] = name
		}
	}
	return nil
}

// portField is where envgen.cue declares a port of the Pod: the main
// container's ports, or a container's.
func portField(s *model.Service, name string) string {
	for _, c := range sorted.Keys(s.Containers) {
		if _, ok := s.Containers[c].Ports[name]; ok {
			return "containers." + Label(c) + ".ports." + Label(name)
		}
	}
	return "ports." + Label(name)
}

// isZero says whether a count or percentage is zero ("0%" too).
func isZero(v *model.IntOrPercent) bool {
	return v != nil && (v.Percent == "0%" || v.Percent == "" && v.Int == 0)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkMounts wants each Secret or ConfigMap mounted at a path of its
// own: not /tmp, a config file or a writable directory.
func checkMounts(s *model.Service, fail func(field, msg string) error) error {
	taken := map[string]string{}
	for p := range s.Files {
		taken[p] = "a config file in files"
	}
	for p := range s.Writable {
		taken[p] = "a writable directory"
	}
	return checkMountPaths("mounts", s.Mounts, taken, s.SecurityContext.FSGroup, fail)
}

// checkMountPaths wants each mount (of the service, or of one of its
// containers) at a path of its own — not /tmp, nor a path taken (path →
// what is there) — and its files readable by a user that is not root.
func checkMountPaths(field string, mounts map[string]model.Mount, taken map[string]string, fsGroup int64, fail func(field, msg string) error) error {
	for _, p := range sorted.Keys(mounts) {
		at := fmt.Sprintf("%s.%q", field, p)
		if p == "/tmp" {
			return fail(at, "/tmp is envgen's writable scratch directory; mount the files in a directory of their own")
		}
		if what, ok := taken[p]; ok {
			return fail(at, fmt.Sprintf("%s is %s; a path is mounted once", p, what))
		}
		// The files belong to root, and to the fsGroup when there is one;
		// the containers never run as root.
		if mode := mounts[p].Mode; mode != nil && *mode&0o004 == 0 && fsGroup == 0 {
			return fail(at+".mode", fmt.Sprintf("mode 0o%o lets only root read the files, and the containers never run as root: set securityContext.fsGroup (the files' group) or a mode others can read (0o444)", *mode))
		}
		// Two keys as one file (one would hide the other), or as a file
		// and a directory under it (the file would have to be both).
		items := mounts[p].Items
		for _, key := range sorted.Keys(items) {
			for _, other := range sorted.Keys(items) {
				if other != key && (items[other] == items[key] || strings.HasPrefix(items[other], items[key]+"/")) {
					return fail(fmt.Sprintf("%s.items.%s", at, Label(other)), fmt.Sprintf("%s would be written where %s is (%s); give each key a file of its own", other, key, items[key]))
				}
			}
		}
		// A mount, writable directory or file at an item's file or at a
		// directory on its way hides it (tls/cert.pem under a mount of
		// p/tls).
		for _, key := range sorted.Keys(items) {
			parts := strings.Split(items[key], "/")
			for n := range parts {
				q := p + "/" + strings.Join(parts[:n+1], "/")
				what, onTop := taken[q]
				if _, mounted := mounts[q]; mounted {
					what, onTop = "a mount", true
				}
				if onTop {
					return fail(fmt.Sprintf("%s.items.%s", at, Label(key)), fmt.Sprintf("%s is %s, which would hide the file of key %s (%s); give one of them another path", q, what, key, items[key]))
				}
			}
		}
		// A config file is mounted alone (a subPath of the files'
		// ConfigMap); inside a mounted Secret or ConfigMap the container
		// runtime cannot mount it, and the container never starts ("not a
		// directory", on a real node: e2e/realnode/mounts_test.go). A
		// directory inside one (another mount, a writable path) works.
		for _, q := range sorted.Keys(taken) {
			if strings.HasPrefix(q, p+"/") && strings.HasPrefix(taken[q], "a config file") {
				return fail(at, fmt.Sprintf("%s (%s) is inside this mount: a single file cannot be mounted inside a mounted Secret or ConfigMap, and the container would never start; put the file beside the mount", q, taken[q]))
			}
		}
	}
	return nil
}

// checkCIDRs wants every IP block as the API server's strict validation
// wants it (apimachinery's own check): a block, not an address in one
// (10.64.0.0/16, not 10.64.0.1/16, which would say either), no leading
// zeros, no IPv4 address written as IPv6.
func checkCIDRs(field string, cidrs []string, fail func(field, msg string) error) error {
	for i, cidr := range cidrs {
		at := fmt.Sprintf("%s.cidrs[%d]", field, i)
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return fail(at, fmt.Sprintf("%q is not an IP block (address/prefix length, e.g. 10.64.0.0/16)", cidr))
		}
		if errs := validation.IsValidCIDRForLegacyField(nil, cidr, true, nil); len(errs) > 0 {
			msg := errs[0].Detail
			if _, block, _ := net.ParseCIDR(cidr); block != nil && block.String() != cidr {
				msg += fmt.Sprintf(" (the block is %s; one address alone is %s/%d)", block, strings.Split(cidr, "/")[0], 8*len(block.IP))
			}
			return fail(at, fmt.Sprintf("%q: %s", cidr, msg))
		}
	}
	return nil
}

// checkWritable wants each writable path mounted once: not at /tmp (envgen's
// own scratch directory) and not where a config file is.
func checkWritable(field string, writable map[string]model.Writable, files map[string]string, fail func(field, msg string) error) error {
	for _, p := range sorted.Keys(writable) {
		at := fmt.Sprintf("%s.%q", field, p)
		if p == "/tmp" {
			return fail(at, "/tmp is writable already (envgen mounts an emptyDir there)")
		}
		if _, ok := files[p]; ok {
			return fail(at, fmt.Sprintf("%s is a config file in files; a path is either a file or a writable directory", p))
		}
	}
	return nil
}

func uniquePorts(field string, ports map[string]int32, fail func(field, msg string) error) error {
	byNumber := map[int32]string{}
	for _, name := range sorted.Keys(ports) {
		n := ports[name]
		if other, ok := byNumber[n]; ok {
			return fail(field+"."+Label(name), fmt.Sprintf("port %d is also %s; each port needs its own number", n, other))
		}
		byNumber[n] = name
	}
	return nil
}

func checkAnnotations(field string, annotations map[string]string, fail func(field, msg string) error) error {
	size := 0
	for _, key := range sorted.Keys(annotations) {
		for _, prefix := range restrictedAnnotationPrefixes {
			if strings.HasPrefix(key, prefix) {
				return fail(fmt.Sprintf("%s.%q", field, key), "this annotation sets the Pod's AppArmor or seccomp profile, which envgen keeps at the restricted profile's; it cannot be changed by an annotation")
			}
		}
		size += len(key) + len(annotations[key])
	}
	if size > maxAnnotationBytes {
		return fail(field, fmt.Sprintf("the annotations are %d bytes together; Kubernetes allows %d", size, maxAnnotationBytes))
	}
	return nil
}

// identifier is a CUE label that needs no quotes in a path.
var identifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// Label is name as a CUE path element: quoted unless an identifier
// (database-x becomes "database-x", tls-proxy "tls-proxy"), so that a path
// of envgen.cue finds its position.
func Label(name string) string {
	if identifier.MatchString(name) {
		return name
	}
	return fmt.Sprintf("%q", name)
}

// checkToken wants the directory of the projected token a mount point of
// its own: not the root, not /tmp, and no other mount in or around it
// (the token's directory is read-only; a read-only mount cannot take
// another mount point inside it).
func checkToken(s *model.Service, fail func(field, msg string) error) error {
	t := s.ServiceAccount.Token
	if t == nil {
		return nil
	}
	field := "serviceAccount.token.path"
	dir := path.Dir(t.Path)
	if dir == "/" || dir == "/tmp" {
		return fail(field, fmt.Sprintf("the token's directory would be %s, which envgen cannot mount over: put it in a directory of its own (/var/run/secrets/tokens/<name>)", dir))
	}
	inside := func(p, d string) bool { return p == d || strings.HasPrefix(p, d+"/") }
	for what, paths := range map[string][]string{"a config file": sorted.Keys(s.Files), "a mount": sorted.Keys(s.Mounts), "a writable directory": sorted.Keys(s.Writable)} {
		for _, p := range paths {
			if inside(p, dir) || (what != "a writable directory" && inside(dir, p)) {
				return fail(field, fmt.Sprintf("the token's directory %s would overlap %s at %s; give the token a directory of its own", dir, what, p))
			}
		}
	}
	return nil
}

// nodePortOutside says that a node port is outside the cluster's range.
func nodePortOutside(n int32, r model.PortRange) string {
	return fmt.Sprintf("node port %d is outside the cluster's range %d–%d (cluster.nodePorts, Kubernetes' default unless set: a cluster started with another --service-node-port-range says so in the platform's defaults)", n, r.Min, r.Max)
}
