package main

import (
	"strings"
	"testing"
)

// TestErrorsShowNoPlaintext runs command lines that fail on a value or a range bound: the
// one-line error names the problem and never prints the value or the bound.
func TestErrorsShowNoPlaintext(t *testing.T) {
	t.Parallel()
	v := newVault(t)
	v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "k")
	rangeOK := `{"min":-424242,"max":424242,"sparsity":1,"trimFactor":1}`
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		// An unquoted plaintext: the shell splits it into two arguments.
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "random", `"my`, `S3CRET-987654"`}, exitUsage, "unexpected argument after VALUE"},
		{[]string{"decrypt", "AAAA", "S3CRET-987654"}, exitUsage, "unexpected argument after VALUE"},
		// A bound of --range that the Extended JSON parser refuses (it quotes the text).
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--contention-factor", "0",
			"--range", `{"min": {"$numberInt": "424242x"}, "max": 5}`, "1"}, exitUsage, "--range is not an Extended JSON document"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--contention-factor", "0",
			"--range", `{"min": {"$numberDecimal": "S3CRET"}, "max": 5}`, "1"}, exitUsage, "--range is not an Extended JSON document"},
		// A value outside the range of the index, and query bounds outside it.
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--contention-factor", "0",
			"--range", rangeOK, "987654"}, exitFail, "value must be greater than or equal to the minimum value"},
		{[]string{"encrypt", "--key-alt-name", "k", "--algorithm", "Range", "--query-type", "range", "--contention-factor", "0",
			"--range", rangeOK, "--expression", `{"$and":[{"age":{"$gte":987654}}]}`}, exitFail, "the range maximum"},
	} {
		r := v.run(t, c.args...)
		checkFailure(t, r, c.code, c.want)
		for _, m := range []string{"S3CRET", "987654", "424242"} {
			if strings.Contains(r.stdout, m) || strings.Contains(r.stderr, m) {
				t.Fatalf("mongocrypt %v printed %q: %s", c.args, m, r)
			}
		}
	}
}
