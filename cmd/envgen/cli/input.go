package cli

import (
	"path/filepath"
)

// InputFile is the name of the file envgen reads in a service's directory.
const InputFile = "envgen.cue"

// InputPath returns the envgen.cue of the directory argument (default ".").
// A path to a .cue file is taken as it is.
func InputPath(args []string) string {
	dir := "."
	if len(args) > 0 {
		dir = args[0]
	}
	if filepath.Ext(dir) == ".cue" {
		return dir
	}
	return filepath.Join(dir, InputFile)
}
