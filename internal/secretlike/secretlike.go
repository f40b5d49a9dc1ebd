// Package secretlike says whether a name or a value looks like it holds a
// credential: the words vet's EG006 flags and the values no envgen output
// prints (a removed literal in a diff, a finding's value).
package secretlike

import (
	"slices"
	"strings"
)

// secretWords are the parts of a variable name that say it holds a
// secret. The name is split at underscores and digits, and its last part
// decides — DB_PASS, HTTP_AUTH, JWT_SIGNING_KEY, SIGNING_SALT are secrets;
// KEYBOARD_LAYOUT, TOKEN_URL, POSTGRES_HOST_AUTH_METHOD, PASSWORD_FILE
// name something else — with SECRET_KEY_BASE-style suffixes looked past.
var secretWords = []string{"PASSWORD", "PASSWD", "PASS", "PWD", "TOKEN", "SECRET", "KEY", "APIKEY", "CREDENTIAL",
	"CREDENTIALS", "CREDS", "PRIVATE", "AUTH", "JWT", "BEARER", "SALT"}

// Name says whether a variable name says it holds a secret.
func Name(name string) bool {
	parts := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' || r >= '0' && r <= '9' })
	for len(parts) > 1 && slices.Contains([]string{"BASE", "VALUE", "DATA"}, parts[len(parts)-1]) {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return false
	}
	last := parts[len(parts)-1]
	if slices.Contains(secretWords, last) {
		return true
	}
	// One word written together: APITOKEN, DBPASSWORD, MYSECRET.
	for _, w := range []string{"PASSWORD", "PASSWD", "TOKEN", "SECRET", "CREDENTIAL"} {
		if strings.HasSuffix(last, w) {
			return true
		}
	}
	return false
}

// Value says whether a literal value itself carries a credential,
// whatever the variable is called: a password in a URL or a PEM key.
func Value(v string) bool {
	if strings.Contains(v, "-----BEGIN ") && strings.Contains(v, "PRIVATE KEY") {
		return true
	}
	if i := strings.Index(v, "://"); i >= 0 {
		rest := v[i+3:]
		if at := strings.IndexByte(rest, '@'); at >= 0 {
			if slash := strings.IndexByte(rest, '/'); slash < 0 || at < slash {
				return strings.Contains(rest[:at], ":")
			}
		}
	}
	return false
}
