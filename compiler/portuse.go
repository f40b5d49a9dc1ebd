package compiler

import (
	"fmt"

	"cuelang.org/go/cue"
	"strconv"
	"strings"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// checkPortUses wants what refers to the Pod's ports to reach a port
// that is there, over its protocol:
//   - an ingress rule opens the Pods' ports, by name or number; a number
//     that is no container's (the Service's port, say) would open nothing
//     and close the real one;
//   - an http or tcp probe connects over TCP, so it can never pass on a
//     port service.ports makes UDP (or SCTP), by name or number, and the
//     Pod would never be ready.
//
// In a release, an undeclared port may be one the release's own container
// declares: it inherits the main release's rules.
func checkPortUses(s *model.Service, inRelease bool, fail func(field, msg string) error) error {
	podPorts := s.PodPorts()
	for _, rule := range sorted.Keys(s.Ingress) {
		for i, port := range s.Ingress[rule].Ports {
			at := fmt.Sprintf("ingress.%s.ports[%d]", Label(rule), i)
			_, named := podPorts[port.Name]
			switch {
			case port.Name != "" && !named:
				return fail(at, fmt.Sprintf("no port named %q in the Pod's ports%s", port.Name, portList(podPorts)))
			case port.Name == "" && s.PortName(port) == "":
				return fail(at, fmt.Sprintf("no container port %d in the Pod%s: a network policy opens the Pods' ports, not the Service's (a port the Pod serves that no container declares, say so in undeclaredPorts: %q: \"who serves it\")", port.Number, portNumbers(podPorts), fmt.Sprint(port.Number)))
			}
		}
		for _, key := range sorted.Keys(s.Ingress[rule].UndeclaredPorts) {
			at := fmt.Sprintf("ingress.%s.undeclaredPorts.%q", Label(rule), key)
			n, err := strconv.Atoi(key)
			switch {
			case err != nil || n < 1 || n > 65535:
				return fail(at, fmt.Sprintf("%s is not a port number (1–65535)", key))
			case s.PortName(model.PortRef{Number: int32(n)}) != "" && !inRelease:
				name := s.PortName(model.PortRef{Number: int32(n)})
				return fail(at, fmt.Sprintf("port %d is declared, as %q: name it in ports (ports: [%q])", n, name, name))
			}
		}
	}
	probes := map[string]model.Probes{"": s.Probes}
	for name, c := range s.Containers {
		probes["containers."+Label(name)+"."] = c.Probes
	}
	for _, prefix := range sorted.Keys(probes) {
		p := probes[prefix]
		for i, probe := range []*model.Probe{p.Readiness, p.Liveness, p.Startup} {
			field, ref := probePort(probe)
			if port := s.PortName(ref); port != "" && s.Protocol(port) != "TCP" {
				kind := []string{"readiness", "liveness", "startup"}[i]
				return fail(prefix+"probes."+kind+"."+field+".port", fmt.Sprintf("port %q is %s (service.ports.%s.protocol), and the %s probe connects over TCP: it would never pass; use an exec probe", port, s.Protocol(port), Label(port), field))
			}
		}
	}
	return nil
}

// portNumbers lists the Pod's ports with their numbers, for a message.
func portNumbers(ports map[string]int32) string {
	if len(ports) == 0 {
		return " (there are no ports)"
	}
	var list []string
	for _, name := range sorted.Keys(ports) {
		list = append(list, fmt.Sprintf("%s %d", name, ports[name]))
	}
	return " (ports: " + strings.Join(list, ", ") + ")"
}

// probePort is the port an http or tcp probe connects to, by name or
// number; none for an exec probe.
func probePort(p *model.Probe) (field string, port model.PortRef) {
	switch {
	case p == nil:
		return "", model.PortRef{}
	case p.HTTP != nil:
		return "http", p.HTTP.Port
	case p.TCP != nil:
		return "tcp", p.TCP.Port
	}
	return "", model.PortRef{}
}

// checkDroppedLastPort refuses a null that drops the last undeclared port
// of an ingress rule that names no other port: a rule without ports opens
// every port of the Pod, so the drop would widen the rule to all of them.
// It reads the layers, since the merged rule no longer says that it had
// ports.
func (c *compilation) checkDroppedLastPort(env string, layers []cue.Value, s *model.Service) error {
	for _, rule := range sorted.Keys(s.Ingress) {
		if in := s.Ingress[rule]; len(in.Ports) > 0 || len(in.UndeclaredPorts) > 0 {
			continue
		}
		var set bool
		var lastNull cue.Value
		for _, layer := range layers {
			iter, _ := layer.LookupPath(cue.MakePath(cue.Str("ingress"), cue.Str(rule), cue.Str("undeclaredPorts"))).Fields()
			for iter != nil && iter.Next() {
				if iter.Value().IsNull() {
					lastNull = iter.Value()
				} else {
					set = true
				}
			}
		}
		if set && lastNull.Exists() {
			field := strings.TrimPrefix(lastNull.Path().String(), "#Service.")
			return c.positionedError(lastNull, field, fmt.Sprintf("this drops the last port of ingress rule %s, and a rule without ports opens every port of the Pod: drop the rule (ingress: %s: null) or name the ports it opens (in %s)", rule, Label(rule), DescribeScope(env)))
		}
	}
	return nil
}
