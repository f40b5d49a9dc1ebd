package model

// Scheduling says where Pods may run.
type Scheduling struct {
	NodeSelector      map[string]string `json:"nodeSelector,omitempty"`
	Tolerations       []Toleration      `json:"tolerations,omitempty"`
	PriorityClassName string            `json:"priorityClassName,omitempty"`
	Spread            []string          `json:"spread,omitempty"`
	// Affinity is a Kubernetes affinity, checked by the compiler against
	// the API type.
	Affinity map[string]any `json:"affinity,omitempty"`
}

// Toleration is one taint the Pods tolerate.
type Toleration struct {
	Key               string `json:"key,omitempty"`
	Operator          string `json:"operator,omitempty"`
	Value             string `json:"value,omitempty"`
	Effect            string `json:"effect,omitempty"`
	TolerationSeconds *int64 `json:"tolerationSeconds,omitempty"`
}
