package model

// CustomKind is a custom resource the organisation declares.
type CustomKind struct {
	APIVersion string `json:"apiVersion"`
	// Checked says whether the declaration carries a schema the compiler
	// checked the objects against.
	Checked bool `json:"-"`
}
