package manifests

import "path"

// configKey is the ConfigMap key of a config file: its base name, which the
// compiler has checked to be unique.
func configKey(filePath string) string { return path.Base(filePath) }
