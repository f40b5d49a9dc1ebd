package clustercli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/runner"
)

// quotaFlag is a runner.Quota on the command line: "cpu=4,memory=8Gi,
// pods=10", each part optional, the rest the default.
type quotaFlag struct{ runner.Quota }

func (f *quotaFlag) Set(s string) error {
	q, err := runner.ParseQuota(s, runner.DefaultQuota())
	if err != nil {
		return err
	}
	f.Quota = q
	return nil
}

func (f *quotaFlag) Type() string { return "quota" }

// fenceOptions say how run fences a build namespace of its own in: its
// quota and where its Pods may connect to.
type fenceOptions struct {
	quota       quotaFlag
	egress      string
	egressAllow []string
}

func newFenceOptions() fenceOptions {
	return fenceOptions{quota: quotaFlag{runner.DefaultQuota()}, egress: "public"}
}

func (o *fenceOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().Var(&o.quota, "quota", "the build namespace's quota, within envgen rbac --quota-ceiling: cpu=N,memory=N,pods=N")
	cmd.Flags().StringVar(&o.egress, "egress", o.egress, "where the build's Pods may connect besides their namespace and DNS: public (public addresses only) or open (everything)")
	cmd.Flags().StringArrayVar(&o.egressAllow, "egress-allow", nil, "a private address block the build's Pods may reach too, e.g. a package mirror's 10.64.4.0/24 (repeat)")
}

// check refuses flags that do not fit: a fence is for a namespace of the
// build's own, never a shared one (--namespace).
func (o *fenceOptions) check(cmd *cobra.Command, shared bool) error {
	if shared {
		for _, name := range []string{"quota", "egress", "egress-allow"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s fences a namespace of the build's own; --namespace's has the quota and network policies its owner gave it", name)
			}
		}
		return nil
	}
	if o.egress != "public" && o.egress != "open" {
		return fmt.Errorf("--egress %q: want public or open", o.egress)
	}
	if o.egress == "open" && len(o.egressAllow) > 0 {
		return errors.New("--egress-allow adds to --egress public; --egress open lets everything out already")
	}
	for _, block := range o.egressAllow {
		if err := runner.ParseEgressAllow(block); err != nil {
			return fmt.Errorf("--egress-allow %w", err)
		}
	}
	return nil
}

func (o *fenceOptions) runnerEgress() runner.Egress {
	return runner.Egress{Open: o.egress == "open", Allow: o.egressAllow}
}
