package clustercli

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"envgen.dev/envgen/pins"
)

// headCommit is the git commit checked out in dir (HEAD), or Jenkins'
// $GIT_COMMIT outside a git checkout; "" when neither says. It is what a
// run's report and an image's provenance record.
func headCommit(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	if out, err := cmd.Output(); err == nil {
		if id := strings.TrimSpace(string(out)); pins.IsCommit(id) {
			return id
		}
	}
	if id := os.Getenv("GIT_COMMIT"); pins.IsCommit(id) {
		return id
	}
	return ""
}

// originURL is where the checkout in dir came from (git's remote origin),
// without credentials; "" when git does not say.
func originURL(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "config", "--get", "remote.origin.url").Output()
	if err != nil {
		return ""
	}
	raw := strings.TrimSpace(string(out))
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}
