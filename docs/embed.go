// Package docs embeds the documents programs serve, so the file under
// docs/ is the one source of truth.
package docs

import _ "embed"

//go:embed intake.openapi.yaml
var intakeOpenAPI []byte

// IntakeOpenAPI is the intake API's OpenAPI 3.1 document.
func IntakeOpenAPI() []byte { return intakeOpenAPI }
