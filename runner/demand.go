package runner

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// QuotaError says that the ci overlay cannot fit its namespace's quota:
// what it holds at the least, at one moment, is more than the quota
// allows. kube-apiserver would refuse the Pod past the quota; a
// Deployment's would never be created, and the run would wait for a test
// service that cannot start.
type QuotaError struct {
	Need  string // the least the overlay holds at once, as a quota
	Quota Quota
	Over  []string // the bounds it exceeds
	Parts []string // what the least is made of
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("the ci overlay holds at least %s at once (%s), more than the build namespace's quota %s allows (%s): "+
		"ask for less (test services' replicas and resources requests), or pass --quota, within what envgen rbac --quota-ceiling allows",
		e.Need, strings.Join(e.Parts, ", "), e.Quota, strings.Join(e.Over, ", "))
}

// Demand is the least a ci overlay holds at once, as a quota counts it.
type Demand struct {
	CPU, Memory resource.Quantity
	Pods        int64
	Parts       []string // what it is made of, for messages
}

func (d Demand) String() string {
	return fmt.Sprintf("cpu=%s,memory=%s,pods=%d", d.CPU.String(), d.Memory.String(), d.Pods)
}

// maxCountedReplicas bounds the replicas summed into a Demand's CPU and
// memory: no quota holds that many Pods, and 2³¹ of them would overflow.
const maxCountedReplicas = 10000

// LeastDemand is the least objects, the ci overlay a run applies, hold at
// once, so that a quota check on it never refuses a build that fits:
// every Deployment's replicas (test services and objects' workloads run
// for the whole build) and the largest of the build's own Pods in each of
// CPU and memory (stages may each run alone, but each runs). A container
// without requests counts the LimitRange's default ones, as
// kube-apiserver will.
func LeastDemand(objects []map[string]any) (Demand, error) {
	var d Demand
	// The build's own Pods: the largest in each of cpu and memory, which
	// may be two stages that never run together, but each runs once.
	var largest struct {
		cpu, memory         resource.Quantity
		cpuName, memoryName string
	}
	for _, obj := range objects {
		kind, _ := obj["kind"].(string)
		name := nameOf(obj)
		switch kind {
		case "Deployment":
			dep, err := fromUnstructured[struct {
				Spec struct {
					Replicas *int32 `json:"replicas"`
					Template struct {
						Spec corev1.PodSpec `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}](obj)
			if err != nil {
				return d, fmt.Errorf("reading Deployment %s: %w", name, err)
			}
			replicas := int64(1)
			if dep.Spec.Replicas != nil {
				replicas = int64(*dep.Spec.Replicas)
			}
			if replicas <= 0 {
				continue
			}
			c, m := podRequests(&dep.Spec.Template.Spec)
			for range min(replicas, maxCountedReplicas) {
				d.CPU.Add(c)
				d.Memory.Add(m)
			}
			d.Pods += replicas
			d.Parts = append(d.Parts, fmt.Sprintf("Deployment %s: %d × (cpu %s, memory %s)", name, replicas, c.String(), m.String()))
		case "Pod":
			p, err := fromUnstructured[corev1.Pod](obj)
			if err != nil {
				return d, fmt.Errorf("reading Pod %s: %w", name, err)
			}
			c, m := podRequests(&p.Spec)
			if largest.cpuName == "" || c.Cmp(largest.cpu) > 0 {
				largest.cpuName, largest.cpu = name, c
			}
			if largest.memoryName == "" || m.Cmp(largest.memory) > 0 {
				largest.memoryName, largest.memory = name, m
			}
		}
	}
	if largest.cpuName != "" {
		d.CPU.Add(largest.cpu)
		d.Memory.Add(largest.memory)
		d.Pods++
		if largest.cpuName == largest.memoryName {
			d.Parts = append(d.Parts, fmt.Sprintf("Pod %s: cpu %s, memory %s", largest.cpuName, largest.cpu.String(), largest.memory.String()))
		} else {
			d.Parts = append(d.Parts, fmt.Sprintf("Pod %s: cpu %s", largest.cpuName, largest.cpu.String()),
				fmt.Sprintf("Pod %s: memory %s", largest.memoryName, largest.memory.String()))
		}
	}
	return d, nil
}

// CheckQuota says whether objects, the ci overlay a run applies, can fit
// q: a QuotaError when their LeastDemand exceeds it.
func CheckQuota(objects []map[string]any, q Quota) error {
	d, err := LeastDemand(objects)
	if err != nil {
		return err
	}
	var over []string
	if d.CPU.Cmp(q.CPU) > 0 {
		over = append(over, "cpu")
	}
	if d.Memory.Cmp(q.Memory) > 0 {
		over = append(over, "memory")
	}
	if d.Pods > q.Pods {
		over = append(over, "pods")
	}
	if over == nil {
		return nil
	}
	return &QuotaError{Need: d.String(), Quota: q, Over: over, Parts: d.Parts}
}

func nameOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// podRequests is what the quota counts of a Pod: the larger of its
// containers' requests together (sidecars included) and of any init
// container's with the sidecars started before it — kube-apiserver's
// rule. A container without a request has its limit's (the API's
// default) or else the build namespace's LimitRange default.
func podRequests(spec *corev1.PodSpec) (cpu, memory resource.Quantity) {
	return podRequest(spec, corev1.ResourceCPU, resource.MustParse(DefaultRequestCPU)),
		podRequest(spec, corev1.ResourceMemory, resource.MustParse(DefaultRequestMemory))
}

func podRequest(spec *corev1.PodSpec, name corev1.ResourceName, def resource.Quantity) resource.Quantity {
	request := func(c *corev1.Container) resource.Quantity {
		if q, ok := c.Resources.Requests[name]; ok {
			return q
		}
		if q, ok := c.Resources.Limits[name]; ok {
			return q
		}
		return def
	}
	var sidecars, inits resource.Quantity
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Add(request(c))
			continue
		}
		q := request(c)
		q.Add(sidecars)
		if q.Cmp(inits) > 0 {
			inits = q
		}
	}
	total := sidecars.DeepCopy()
	for i := range spec.Containers {
		total.Add(request(&spec.Containers[i]))
	}
	if inits.Cmp(total) > 0 {
		return inits
	}
	return total
}
