package model

import (
	"encoding/json"
	"fmt"
)

// UnmarshalJSON accepts the schema's #EnvSetting: a string,
// {secret: name, key: k} / {configMap: name, key: k}, or null (Unset).
func (e *EnvVar) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*e = EnvVar{Unset: true}
		return nil
	}
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

// MarshalJSON writes the schema's form: a string or a reference.
func (e EnvVar) MarshalJSON() ([]byte, error) {
	switch {
	case e.Unset:
		return []byte("null"), nil
	case e.Secret != "":
		return json.Marshal(map[string]string{"secret": e.Secret, "key": e.Key})
	case e.ConfigMap != "":
		return json.Marshal(map[string]string{"configMap": e.ConfigMap, "key": e.Key})
	}
	return json.Marshal(e.Value)
}

// MarshalJSON writes a name or a number.
func (p PortRef) MarshalJSON() ([]byte, error) {
	if p.Name != "" {
		return json.Marshal(p.Name)
	}
	return json.Marshal(p.Number)
}

// MarshalJSON writes a percentage or a count.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.Percent != "" {
		return json.Marshal(v.Percent)
	}
	return json.Marshal(v.Int)
}
