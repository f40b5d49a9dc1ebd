package manifests

import (
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

func deployment(s *model.Service) *appsv1.Deployment {
	container := corev1.Container{
		Name:           s.Name,
		Image:          s.ImageRef(),
		Command:        s.Command,
		Args:           s.Args,
		Ports:          containerPorts(s.Ports, s.Protocol),
		Env:            envVars(s.EnvOrder, s.Env),
		Resources:      resources(s.Resources),
		ReadinessProbe: probe(s.Probes.Readiness),
		LivenessProbe:  probe(s.Probes.Liveness),
		StartupProbe:   probe(s.Probes.Startup),
		Lifecycle:      preStop(s.PreStop),
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels(s), Annotations: podAnnotations(s.Annotations, s.Files)},
		Spec:       podSpec(s, container),
	}
	addContainers(&template.Spec, s, false)
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: serverMeta(s, s.Instance()),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(s.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selector(s.Name, s.Instance())},
			Template: template,
		},
	}
	if r := s.Rollout; r.MaxSurge != nil || r.MaxUnavailable != nil {
		d.Spec.Strategy = appsv1.DeploymentStrategy{
			Type:          appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intOrPercent(r.MaxSurge), MaxUnavailable: intOrPercent(r.MaxUnavailable)},
		}
	}
	d.Spec.MinReadySeconds = s.Rollout.MinReadySeconds
	d.Spec.RevisionHistoryLimit = s.Rollout.RevisionHistoryLimit
	d.Spec.Template.Spec.TerminationGracePeriodSeconds = s.TerminationGracePeriodSeconds
	schedule(&d.Spec.Template.Spec, s.Scheduling)
	d.Spec.Template.Spec.TopologySpreadConstraints = spread(s.Scheduling.Spread, selector(s.Name, s.Instance()))
	if s.Autoscale != nil {
		// The autoscaler owns the replica count. A replicas field beside it
		// would reset the Deployment to that count on every apply
		// (Kubernetes' own advice: leave it out).
		d.Spec.Replicas = nil
	}
	return d
}

func podAnnotations(user, files map[string]string) map[string]string {
	if len(user) == 0 && len(files) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range user {
		out[k] = v
	}
	if len(files) > 0 {
		out[FilesHashAnnotation] = filesHash(files)
	}
	return out
}

// service is a test service's Service: every port on its own number.
func service(serviceName, name, component string, ports map[string]int32) *corev1.Service {
	var servicePorts []corev1.ServicePort
	for _, portName := range sorted.Keys(ports) {
		servicePorts = append(servicePorts, corev1.ServicePort{
			Name: portName, Port: ports[portName], TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP,
		})
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(serviceName, name, component),
		Spec: corev1.ServiceSpec{
			Selector: selector(serviceName, name),
			Ports:    servicePorts,
		},
	}
}

// serviceFront is the service's own Service, shaped by service: its type
// and the ports it exposes, each on its port, node port and protocol.
func serviceFront(s *model.Service) *corev1.Service {
	svc := service(s.Name, s.Instance(), ComponentServer, nil)
	svc.ObjectMeta = serverMeta(s, s.Instance())
	if s.RoutesReleases() {
		// Every release whose traffic is shared, this one too.
		svc.Spec.Selector = map[string]string{LabelName: s.Name, LabelRoutedVia: s.Name}
	}
	podPorts := s.PodPorts()
	for _, name := range s.Exposed() {
		shape := s.Service.Ports[name]
		port := corev1.ServicePort{Name: name, Port: podPorts[name], TargetPort: intstr.FromString(name), Protocol: corev1.Protocol(s.Protocol(name)), NodePort: shape.NodePort}
		if shape.Port != 0 {
			port.Port = shape.Port
		}
		svc.Spec.Ports = append(svc.Spec.Ports, port)
	}
	switch s.Service.Type {
	case "NodePort":
		svc.Spec.Type = corev1.ServiceTypeNodePort
	case "LoadBalancer":
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	case "Headless":
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return svc
}

func filesConfigMap(s *model.Service) *corev1.ConfigMap {
	data := map[string]string{}
	for p, content := range s.Files {
		data[s.FileKey(p)] = content
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: serverMeta(s, FilesConfigMapName(s.Instance())),
		Data:       data,
	}
}

func autoscaler(s *model.Service) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: serverMeta(s, s.Instance()),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.Instance()},
			MinReplicas:    ptr.To(s.Autoscale.Min),
			MaxReplicas:    s.Autoscale.Max,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(s.Autoscale.CPUPercent)},
				},
			}},
		},
	}
}

func disruptionBudget(s *model.Service) *policyv1.PodDisruptionBudget {
	budget := s.DisruptionBudget
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: serverMeta(s, s.Instance()),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable:   intOrPercent(budget.MinAvailable),
			MaxUnavailable: intOrPercent(budget.MaxUnavailable),
			Selector:       &metav1.LabelSelector{MatchLabels: selector(s.Name, s.Instance())},
		},
	}
}

func intOrPercent(v *model.IntOrPercent) *intstr.IntOrString {
	if v == nil {
		return nil
	}
	if v.Percent != "" {
		return ptr.To(intstr.FromString(v.Percent))
	}
	return ptr.To(intstr.FromInt32(v.Int))
}

// networkPolicy allows egress to DNS and to the declared destinations only.
// networkPolicy restricts the service's Pods: egress to the listed
// destinations (and DNS, always), ingress from the listed sources; each
// direction only when envgen.cue lists rules for it.
func networkPolicy(s *model.Service) *networkingv1.NetworkPolicy {
	spec := networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: selector(s.Name, s.Instance())}}
	if len(s.Ingress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		for _, name := range sorted.Keys(s.Ingress) {
			spec.Ingress = append(spec.Ingress, ingressRule(s, s.Ingress[name]))
		}
	}
	if len(s.Egress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		spec.Egress = egressRules(s)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: serverMeta(s, s.Instance()),
		Spec:       spec,
	}
}

// peers are the Pods and addresses a rule names: IP blocks; namespaces by
// name, each narrowed to pods' labels when given; or pods' labels in the
// service's own namespace.
func peers(cidrs, namespaces []string, pods map[string]string) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, cidr := range cidrs {
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	var podSelector *metav1.LabelSelector
	if len(pods) > 0 {
		podSelector = &metav1.LabelSelector{MatchLabels: pods}
	}
	for _, ns := range namespaces {
		out = append(out, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			PodSelector:       podSelector,
		})
	}
	if len(namespaces) == 0 && podSelector != nil {
		out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: podSelector})
	}
	return out
}

// ingressRule opens the Pods' ports a rule names, each for its own
// protocol: a UDP port opened for TCP stays closed.
func ingressRule(s *model.Service, in model.Ingress) networkingv1.NetworkPolicyIngressRule {
	rule := networkingv1.NetworkPolicyIngressRule{From: peers(in.CIDRs, in.Namespaces, in.Pods)}
	for _, port := range in.Ports {
		protocol := corev1.Protocol(s.Protocol(s.PortName(port)))
		rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: ptr.To(portRef(port))})
	}
	for _, number := range undeclaredPorts(in) {
		// TCP, unless a release declares the port after all.
		protocol := corev1.Protocol(s.Protocol(s.PortName(model.PortRef{Number: number})))
		rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: ptr.To(intstr.FromInt32(number))})
	}
	return rule
}

// undeclaredPorts are a rule's undeclared port numbers, in numeric order
// (the schema and the compiler have checked that each is a port number).
func undeclaredPorts(in model.Ingress) []int32 {
	var out []int32
	for key := range in.UndeclaredPorts {
		n, _ := strconv.ParseInt(key, 10, 32)
		out = append(out, int32(n))
	}
	slices.Sort(out)
	return out
}

// egressRules are DNS, which every Pod needs, and then the rules of
// envgen.cue in name order.
func egressRules(s *model.Service) []networkingv1.NetworkPolicyEgressRule {
	dnsPort := intstr.FromInt32(53)
	rules := []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: &dnsPort},
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: &dnsPort},
		},
	}}
	for _, name := range sorted.Keys(s.Egress) {
		rules = append(rules, egressRule(s.Egress[name]))
	}
	return rules
}

func egressRule(e model.Egress) networkingv1.NetworkPolicyEgressRule {
	rule := networkingv1.NetworkPolicyEgressRule{To: peers(e.CIDRs, e.Namespaces, e.Pods)}
	protocol := corev1.ProtocolTCP
	if e.Protocol != "" {
		protocol = corev1.Protocol(e.Protocol)
	}
	for _, port := range e.Ports {
		rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: ptr.To(protocol), Port: ptr.To(intstr.FromInt32(port))})
	}
	return rule
}
