// Package secretlike says whether a name or a value looks like it holds a
// credential: the words vet's EG006 flags and the values no envgen output
// prints (a removed literal in a diff, a finding's value).
package secretlike

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
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
// whatever the variable is called: a private key, or a URL's user part
// holding a password or a token — in every URL of the value, a password
// holding '/' or '@' included.
func Value(v string) bool {
	if strings.Contains(v, "-----BEGIN ") && strings.Contains(v, "PRIVATE KEY") {
		return true
	}
	for rest := v; ; {
		i := strings.Index(rest, "://")
		if i < 0 {
			return false
		}
		rest = rest[i+3:]
		url := rest
		if end := strings.IndexFunc(url, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '\'' || r == ',' }); end >= 0 {
			url = url[:end]
		}
		if next := strings.Index(url, "://"); next >= 0 {
			url = url[:next]
		}
		at := strings.LastIndexByte(url, '@')
		if at <= 0 {
			continue
		}
		user := url[:at]
		if hostAndPath.MatchString(user) {
			continue // host:port/path@… is a path, not a password
		}
		if strings.Contains(user, ":") || tokenLike(user) {
			return true
		}
	}
}

// hostAndPath is a URL's host, port and path before an '@' of the path.
var hostAndPath = regexp.MustCompile(`^[^:/@]+:[0-9]+(/|$)`)

// tokenLike says whether a URL's user part is a token rather than a name:
// the prefixes of the forges' and chat tools' tokens, or 32 characters and
// more of letters and digits.
func tokenLike(user string) bool {
	for _, prefix := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-"} {
		if strings.HasPrefix(user, prefix) {
			return true
		}
	}
	if len(user) < 32 {
		return false
	}
	for _, r := range user {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_+/=", r) {
			return false
		}
	}
	return true
}
