package model

import (
	"encoding/json"
	"fmt"
)

// UnmarshalJSON accepts the schema's #EnvValue: a string, or
// {secret: name, key: k} / {configMap: name, key: k}.
func (e *EnvVar) UnmarshalJSON(data []byte) error {
	var literal string
	if err := json.Unmarshal(data, &literal); err == nil {
		*e = EnvVar{Value: literal}
		return nil
	}
	var ref struct {
		Secret    string `json:"secret"`
		ConfigMap string `json:"configMap"`
		Key       string `json:"key"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		return fmt.Errorf("environment variable: %w", err)
	}
	*e = EnvVar{Secret: ref.Secret, ConfigMap: ref.ConfigMap, Key: ref.Key}
	return nil
}

// UnmarshalJSON accepts a port name or number.
func (p *PortRef) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &p.Number); err == nil {
		return nil
	}
	return json.Unmarshal(data, &p.Name)
}

// UnmarshalJSON accepts a count or a percentage string.
func (v *IntOrPercent) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &v.Int); err == nil {
		return nil
	}
	return json.Unmarshal(data, &v.Percent)
}
