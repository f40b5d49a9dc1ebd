package secretlike

import "testing"

func TestLooksSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"DB_PASS": true, "AUTH": true, "JWT_SIGNING_KEY": true, "BEARER": true, "SIGNING_SALT": true,
		"API_TOKEN": true, "MW_API_TOKEN": true, "DBPASSWORD": true, "AWS_SECRET_ACCESS_KEY": true, "PRIVATE_KEY": true,
		"KEYBOARD_LAYOUT": false, "MONKEY_COUNT": false, "LOG_LEVEL": false, "ZOTERO_HOST": false, "BYPASS_CACHE": false,
		"POSTGRES_HOST_AUTH_METHOD": false, "TOKEN_URL": false, "PASSWORD_FILE": false, "HTTP_AUTH": true, "SECRET_KEY_BASE": true,
	} {
		if got := Name(name); got != want {
			t.Errorf("Name(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestSecretValue(t *testing.T) {
	for value, want := range map[string]bool{
		"postgres://app:hunter2@db:5432/app":                                   true,
		"postgres://app:s3cr/et+Pw==@db/app":                                   true,
		"postgres://app:p@ss@db/app":                                           true,
		"primary https://example.org, replica postgres://app:hunter2@db/app":   true,
		"https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/org/repo": true,
		"https://oauth2:glpat-abc@gitlab.example.org/x":                        true,
		"ssh://git@github.com/org/repo":                                        false,
		"http://host:8080/path@v2":                                             false,
		"https://user@example.org/":                                            false,
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE...":                             true,
		"postgres://db:5432/app":                                               false,
		"https://example.org/path@v2":                                          false,
		"redis://wiki-web-cache:6379":                                          false,
		"-----BEGIN CERTIFICATE-----\nMIIB... (a public cert)":                 false,
	} {
		if got := Value(value); got != want {
			t.Errorf("Value(%q) = %v, want %v", value, got, want)
		}
	}
}
