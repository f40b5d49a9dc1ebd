// Package version says which envgen this is: the release it was built as
// and the commit it was built from, for `envgen version`, SARIF and bug
// reports.
package version

import (
	"runtime/debug"
)

// Release is envgen's version number.
const Release = "0.2.0"

// Commit is set at link time (-X envgen.dev/envgen/internal/version.Commit=…,
// as `make build` does); otherwise it is read from the Go build
// information when the toolchain recorded it.
var Commit string

// Info is what `envgen version` prints.
type Info struct {
	Release   string `json:"release"`
	Commit    string `json:"commit"`
	Module    string `json:"module"`
	GoVersion string `json:"goVersion"`
}

// Get returns the version of the running binary.
func Get() Info {
	info := Info{Release: Release, Commit: Commit, Module: "(unknown)", GoVersion: "(unknown)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Module = bi.Main.Path + "@" + bi.Main.Version
		info.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "" {
				info.Commit = s.Value
			}
		}
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}
