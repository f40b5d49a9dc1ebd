package cli

import "envgen.dev/envgen/runner"

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
