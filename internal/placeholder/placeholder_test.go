package placeholder

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFill(t *testing.T) {
	values := map[string][]byte{"PASS": []byte("s3cr${ET}"), "KEY": []byte("-----BEGIN KEY-----\nabc\n-----END KEY-----\n")}
	for _, c := range []struct{ template, want string }{
		{"password: ${PASS}\n", "password: s3cr${ET}\n"},
		{"${PASS}${PASS}", "s3cr${ET}s3cr${ET}"},
		{"log: ${APACHE_LOG_DIR}/x ${PASS}", "log: ${APACHE_LOG_DIR}/x s3cr${ET}"},
		{"key: |\n${KEY}", "key: |\n-----BEGIN KEY-----\nabc\n-----END KEY-----\n"},
		{"${a${PASS}}", "${as3cr${ET}}"},
		{"$PASS {PASS} ${PASS", "$PASS {PASS} ${PASS"},
		{"${ PASS}", "${ PASS}"},
		{"", ""},
	} {
		if got := string(Fill([]byte(c.template), values)); got != c.want {
			t.Errorf("Fill(%q) = %q, want %q", c.template, got, c.want)
		}
	}
}

// TestFillAgainstReplace checks Fill on generated templates against the
// oracle strings.ReplaceAll, which is equal to it whenever no value
// contains a placeholder and no name is a prefix trick: values here are
// drawn from an alphabet without "$".
func TestFillAgainstReplace(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"${A}", "${B}", "${C}", "${", "}", "$", "x", "\n", "{A}", "${A", "A}"}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		template := b.String()
		values := map[string][]byte{"A": []byte("one"), "B": []byte("two\nlines")}
		want := strings.NewReplacer("${A}", "one", "${B}", "two\nlines").Replace(template)
		if got := string(Fill([]byte(template), values)); got != want {
			t.Fatalf("Fill(%q) = %q, want %q", template, got, want)
		}
	}
}

func TestIsName(t *testing.T) {
	for name, want := range map[string]bool{"A": true, "_a1": true, "DB_PASSWORD": true, "1A": false, "": false, "A-B": false, "Ä": false} {
		if got := IsName(name); got != want {
			t.Errorf("IsName(%q) = %v", name, got)
		}
	}
}
