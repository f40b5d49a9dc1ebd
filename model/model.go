// Package model is the checked description of a service in one environment:
// the output of package compiler and the input of package manifests.
//
// Every value here has already passed the CUE schema (schema/*.cue,
// #Resolved) and the compiler's cross-field checks, so code that consumes a
// model may rely on it: names are DNS labels, ports are in range, exactly
// one of Tag and Digest is set, probes name existing ports.
package model

import (
	"envgen.dev/envgen/internal/sorted"
)

// Service is one environment's view of the service: the top level of
// envgen.cue with that environment's overrides applied.
type Service struct {
	// Cluster, if set, is the only cluster envgen run accepts.
	Cluster *Cluster `json:"cluster,omitempty"`
	// Scheduling applies to every Pod of the environment.
	Scheduling Scheduling `json:"scheduling,omitzero"`
	Name       string     `json:"name"`
	// Container is the main container: image, command, ports, env,
	// resources, writable paths.
	Container
	// Build, if set, says how the image is built from the repository.
	Build *Build            `json:"build,omitempty"`
	Files map[string]string `json:"files,omitempty"`
	// FileSecrets fill placeholders of Files from Secrets (files.go).
	FileSecrets                   map[string]map[string]SecretKeyRef `json:"fileSecrets,omitempty"`
	FileRenderer                  *FileRenderer                      `json:"fileRenderer,omitempty"`
	TerminationGracePeriodSeconds *int64                             `json:"terminationGracePeriodSeconds,omitempty"`
	PreStop                       *PreStop                           `json:"preStop,omitempty"`
	Probes                        Probes                             `json:"probes,omitzero"`
	Replicas                      int32                              `json:"replicas"`
	Autoscale                     *Autoscale                         `json:"autoscale,omitempty"`
	DisruptionBudget              *DisruptionBudget                  `json:"disruptionBudget,omitempty"`
	Egress                        map[string]Egress                  `json:"egress,omitempty"`
	Ingress                       map[string]Ingress                 `json:"ingress,omitempty"`
	// Containers are the Pod's other containers (sidecars, init
	// containers, proxies), by name.
	Containers map[string]Sidecar `json:"containers,omitempty"`
	// Patches are strategic merge patches of generated objects, by
	// "Kind/name": the escape hatch, checked against the API types.
	Patches map[string]map[string]any `json:"patches,omitempty"`
	// Objects are objects envgen adds as they are, by "Kind/name".
	Objects map[string]map[string]any `json:"objects,omitempty"`
	// CustomKinds are the custom resources objects may add (envgen.cue's
	// customKinds, the same in every environment), by kind.
	CustomKinds map[string]CustomKind `json:"-"`
	// Deployment false: no Deployment (and no Service, autoscaler,
	// disruption budget, network policy); the service is its jobs.
	Deployment *bool `json:"deployment,omitempty"`
	// Jobs are scheduled jobs beside the Deployment, by name.
	Jobs map[string]Job `json:"jobs,omitempty"`
	// Mounts are existing Secrets and ConfigMaps as files, by directory.
	Mounts map[string]Mount `json:"mounts,omitempty"`
	// Rollout tunes the Deployment's rolling update.
	Rollout Rollout `json:"rollout,omitzero"`
	// Service shapes the Service in front of the Pods.
	Service     ServiceShape      `json:"service,omitzero"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels are extra labels of the service's Pods.
	Labels          map[string]string `json:"labels,omitempty"`
	ServiceAccount  ServiceAccount    `json:"serviceAccount,omitzero"`
	SecurityContext SecurityContext   `json:"securityContext,omitzero"`
	CI              *CI               `json:"ci,omitempty"`

	// Release names the release this is: "" for the service itself (the
	// main release), else one of envgen.cue's releases, whose objects
	// are named <name>-<release>.
	Release string `json:"-"`
	// Traffic of a release: "shared" (the main release's Service selects
	// its Pods too) or "own" (a Service of its own).
	Traffic string `json:"-"`
	// Releases are the environment's other releases, each the service
	// with its release's layer over the environment's.
	Releases []*Service `json:"-"`
}

// Instance is the name of the release's objects and its instance label:
// the service's name for the main release, <name>-<release> for another.
func (s *Service) Instance() string {
	if s.Release == "" {
		return s.Name
	}
	return s.Name + "-" + s.Release
}

// Fronted says whether a Service is in front of the Pods of this shape:
// they have ports and service.type is not None. (A release that shares the
// main release's Service has none of its own; ask the main release.)
func (s *Service) Fronted() bool { return len(s.PodPorts()) > 0 && s.Service.Type != "None" }

// SharesService says whether this release's Pods are behind the main
// release's Service.
func (s *Service) SharesService() bool { return s.Release != "" && s.Traffic != "own" }

// RoutesReleases says whether the main release's Service also sends
// traffic to other releases' Pods: its selector then selects the Pods
// routed through it rather than its own instance.
func (s *Service) RoutesReleases() bool {
	for _, r := range s.Releases {
		if r.SharesService() {
			return true
		}
	}
	return false
}

// Deploys says whether the service runs as a Deployment (deployment is
// not false).
func (s *Service) Deploys() bool { return s.Deployment == nil || *s.Deployment }

// Cluster names the cluster an environment belongs on.
type Cluster struct {
	Server string `json:"server,omitempty"`
	UID    string `json:"uid,omitempty"`
	// NodePorts is the cluster's node port range, if not Kubernetes'
	// default.
	NodePorts *PortRange `json:"nodePorts,omitempty"`
}

// PortRange is a range of port numbers, both ends included.
type PortRange struct {
	Min int32 `json:"min"`
	Max int32 `json:"max"`
}

// NodePortRange is the range node ports are taken from: the cluster's
// (cluster.nodePorts), else Kubernetes' default --service-node-port-range.
func (s *Service) NodePortRange() PortRange {
	if s.Cluster != nil && s.Cluster.NodePorts != nil {
		return *s.Cluster.NodePorts
	}
	return PortRange{Min: 30000, Max: 32767}
}

// ImageRef joins a repository with its tag or digest.
func ImageRef(image, tag, digest string) string {
	if digest != "" {
		return image + "@" + digest
	}
	return image + ":" + tag
}

// EnvVar is a literal value or a reference to a Secret or ConfigMap key.
// Exactly one of Value, Secret and ConfigMap is set, or Unset.
type EnvVar struct {
	Value     string
	Secret    string
	ConfigMap string
	Key       string
	// Unset (null in ci.env) removes a variable the build would inherit
	// from the service.
	Unset bool
}

// Writable is an emptyDir mounted at a path.
type Writable struct {
	SizeLimit string `json:"sizeLimit,omitempty"`
	Memory    bool   `json:"memory,omitempty"`
}

// PreStop is what runs before the main container is stopped; one of Sleep
// (seconds) and Exec is set.
type PreStop struct {
	Sleep int64      `json:"sleep,omitempty"`
	Exec  *ExecCheck `json:"exec,omitempty"`
}

// Resources are requests and limits by resource name (cpu, memory, …).
type Resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// Probes are the health checks of a container.
type Probes struct {
	Readiness *Probe `json:"readiness,omitempty"`
	Liveness  *Probe `json:"liveness,omitempty"`
	Startup   *Probe `json:"startup,omitempty"`
}

// Probe is one health check; exactly one of HTTP, TCP and Exec is set.
type Probe struct {
	HTTP                *HTTPCheck `json:"http,omitempty"`
	TCP                 *TCPCheck  `json:"tcp,omitempty"`
	Exec                *ExecCheck `json:"exec,omitempty"`
	InitialDelaySeconds int32      `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds       int32      `json:"periodSeconds,omitempty"`
	TimeoutSeconds      int32      `json:"timeoutSeconds,omitempty"`
	FailureThreshold    int32      `json:"failureThreshold,omitempty"`
}

// HTTPCheck probes with an HTTP GET.
type HTTPCheck struct {
	Path   string  `json:"path"`
	Port   PortRef `json:"port"`
	Scheme string  `json:"scheme,omitempty"`
}

// TCPCheck probes by opening a TCP connection.
type TCPCheck struct {
	Port PortRef `json:"port"`
}

// ExecCheck probes by running a command in the container.
type ExecCheck struct {
	Command []string `json:"command"`
}

// PortRef names a port by its name in Ports or by number.
type PortRef struct {
	Name   string
	Number int32
}

// Autoscale configures a HorizontalPodAutoscaler on CPU utilisation.
type Autoscale struct {
	Min        int32 `json:"min"`
	Max        int32 `json:"max"`
	CPUPercent int32 `json:"cpuPercent"`
}

// DisruptionBudget configures a PodDisruptionBudget; one field is set.
type DisruptionBudget struct {
	MinAvailable   *IntOrPercent `json:"minAvailable,omitempty"`
	MaxUnavailable *IntOrPercent `json:"maxUnavailable,omitempty"`
}

// IntOrPercent is a count of Pods or a percentage such as "50%".
type IntOrPercent struct {
	Int     int32
	Percent string
}

// Egress is one allowed egress destination of the NetworkPolicy.
type Egress struct {
	CIDRs      []string          `json:"cidrs,omitempty"`
	Namespaces []string          `json:"namespaces,omitempty"`
	Pods       map[string]string `json:"pods,omitempty"`
	Ports      []int32           `json:"ports,omitempty"`
	Protocol   string            `json:"protocol,omitempty"`
}

// Job is a scheduled job: a CronJob running the service's image.
type Job struct {
	Schedule                   string            `json:"schedule"`
	TimeZone                   string            `json:"timeZone,omitempty"`
	Command                    []string          `json:"command"`
	Args                       []string          `json:"args,omitempty"`
	Env                        map[string]EnvVar `json:"env,omitempty"`
	Resources                  *Resources        `json:"resources,omitempty"`
	ConcurrencyPolicy          string            `json:"concurrencyPolicy,omitempty"`
	Suspend                    bool              `json:"suspend,omitempty"`
	Timeout                    string            `json:"timeout,omitempty"`
	BackoffLimit               *int32            `json:"backoffLimit,omitempty"`
	SuccessfulJobsHistoryLimit *int32            `json:"successfulJobsHistoryLimit,omitempty"`
	FailedJobsHistoryLimit     *int32            `json:"failedJobsHistoryLimit,omitempty"`

	// TimeoutSeconds is Timeout, parsed (0: none).
	TimeoutSeconds int64 `json:"-"`
}

// Mount is an existing Secret or ConfigMap mounted as files: exactly one
// of Secret and ConfigMap is set.
type Mount struct {
	Secret    string            `json:"secret,omitempty"`
	ConfigMap string            `json:"configMap,omitempty"`
	Items     map[string]string `json:"items,omitempty"`
	Mode      *int32            `json:"mode,omitempty"`
}

// Rollout is how the Deployment replaces its Pods.
type Rollout struct {
	MaxSurge             *IntOrPercent `json:"maxSurge,omitempty"`
	MaxUnavailable       *IntOrPercent `json:"maxUnavailable,omitempty"`
	MinReadySeconds      int32         `json:"minReadySeconds,omitempty"`
	RevisionHistoryLimit *int32        `json:"revisionHistoryLimit,omitempty"`
}

// ServiceShape is the Service's type and which ports it exposes how.
type ServiceShape struct {
	Type  string                 `json:"type,omitempty"`
	Ports map[string]ServicePort `json:"ports,omitempty"`
}

// ServicePort is how the Service exposes one named container port.
type ServicePort struct {
	Port     int32  `json:"port,omitempty"`
	NodePort int32  `json:"nodePort,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// Exposed returns the ports the Service exposes: those service.ports
// lists, or every port of the Pod.
func (s *Service) Exposed() []string {
	if len(s.Service.Ports) > 0 {
		return sorted.Keys(s.Service.Ports)
	}
	return sorted.Keys(s.PodPorts())
}

// Protocol is the protocol of a named port ("TCP" unless service.ports
// says otherwise).
func (s *Service) Protocol(port string) string {
	if p := s.Service.Ports[port].Protocol; p != "" {
		return p
	}
	return "TCP"
}

// PortName names a port of the Pod given by name (as given) or by number
// ("" when no container has it; numbers are unique in the Pod, checked).
func (s *Service) PortName(ref PortRef) string {
	if ref.Name != "" {
		return ref.Name
	}
	for name, number := range s.PodPorts() {
		if number == ref.Number {
			return name
		}
	}
	return ""
}

// Ingress is one rule of who may reach the service's Pods.
type Ingress struct {
	CIDRs      []string          `json:"cidrs,omitempty"`
	Namespaces []string          `json:"namespaces,omitempty"`
	Pods       map[string]string `json:"pods,omitempty"`
	Ports      []PortRef         `json:"ports,omitempty"`
	// UndeclaredPorts are TCP port numbers no container declares, with
	// who serves each.
	UndeclaredPorts map[string]string `json:"undeclaredPorts,omitempty"`
}

// ServiceAccount says which account the Pods use and whether its token is
// mounted.
type ServiceAccount struct {
	Name           string `json:"name,omitempty"`
	AutomountToken bool   `json:"automountToken,omitempty"`
	// Token is a projected, short-lived token mounted as a file.
	Token *ProjectedToken `json:"token,omitempty"`
}

// ProjectedToken is a service account token for one audience, in a file
// the kubelet renews.
type ProjectedToken struct {
	Path              string `json:"path"`
	Audience          string `json:"audience,omitempty"`
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
}

// SecurityContext holds the ids the containers run as; zero means unset.
type SecurityContext struct {
	RunAsUser  int64 `json:"runAsUser,omitempty"`
	RunAsGroup int64 `json:"runAsGroup,omitempty"`
	FSGroup    int64 `json:"fsGroup,omitempty"`
}

// CI is the build of the ci environment.
type CI struct {
	Image       string                 `json:"image,omitempty"`
	Tag         string                 `json:"tag,omitempty"`
	Digest      string                 `json:"digest,omitempty"`
	Command     []string               `json:"command,omitempty"`
	Args        []string               `json:"args,omitempty"`
	Env         map[string]EnvVar      `json:"env,omitempty"`
	Timeout     string                 `json:"timeout"`
	Resources   *Resources             `json:"resources,omitempty"`
	Annotations map[string]string      `json:"annotations,omitempty"`
	Services    map[string]TestService `json:"services,omitempty"`
	// Secrets are the Secrets envgen run creates in the build's namespace:
	// name → keys.
	Secrets map[string][]string `json:"secrets,omitempty"`
	// Artifacts are paths in the build container that envgen run copies
	// out after the build.
	Artifacts []string `json:"artifacts,omitempty"`
	// Stages split the build into Pods run in the order of their needs.
	Stages map[string]Stage `json:"stages,omitempty"`

	// TimeoutSeconds is Timeout, parsed.
	TimeoutSeconds int64 `json:"-"`
}

// Stage is one Pod of a staged build: the build with its own command.
type Stage struct {
	Image   string            `json:"image,omitempty"`
	Tag     string            `json:"tag,omitempty"`
	Digest  string            `json:"digest,omitempty"`
	Command []string          `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]EnvVar `json:"env,omitempty"`
	Needs   []string          `json:"needs,omitempty"`
}

// TestService is a dependency of the tests, run beside the build Pod.
type TestService struct {
	Container
	// Localhost runs it as a native sidecar of the build Pod.
	Localhost       bool            `json:"localhost,omitempty"`
	Readiness       *Probe          `json:"readiness,omitempty"`
	SecurityContext SecurityContext `json:"securityContext,omitzero"`
}
