package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestScratch(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip("scratch")
	}
	v := newVault(t)
	id := strings.TrimSpace(v.ok(t, "keys", "create", "--provider", "local", "--alt-name", "qe"))
	for _, args := range [][]string{
		{"encrypt", "--key-id", id, "--algorithm", "Indexed", "--contention-factor", "0", `"abc"`},
		{"encrypt", "--key-id", id, "--algorithm", "Indexed", `"abc"`},
		{"encrypt", "--key-id", id, "--algorithm", "Unindexed", `"abc"`},
		{"encrypt", "--key-id", id, "--algorithm", "Indexed", "--contention-factor", "4", "--query-type", "equality", `"abc"`},
		{"encrypt", "--key-id", id, "--algorithm", "Range", "--contention-factor", "0", "--range", `{"min":0,"max":200,"sparsity":1,"trimFactor":1}`, `42`},
		{"encrypt", "--key-id", id, "--algorithm", "Range", "--contention-factor", "0", "--query-type", "range", "--range", `{"min":0,"max":200,"sparsity":1,"trimFactor":1}`, `42`},
		{"encrypt", "--key-id", id, "--algorithm", "Range", "--contention-factor", "0", "--range", `{"min":0.0,"max":200.0,"precision":2, "sparsity":1,"trimFactor":1}`, `42.5`},
		{"encrypt", "--key-id", id, "--algorithm", "String", "--contention-factor", "0", "--string", `{"caseSensitive":true,"diacriticSensitive":true,"prefix":{"strMinQueryLength":2,"strMaxQueryLength":10}}`, `"hello"`},
		{"encrypt", "--key-id", id, "--algorithm", "String", "--contention-factor", "0", "--query-type", "prefixPreview", "--string", `{"caseSensitive":true,"diacriticSensitive":true,"prefix":{"strMinQueryLength":2,"strMaxQueryLength":10}}`, `"hel"`},
		{"encrypt", "--key-alt-name", "qe", "--algorithm", "Indexed", "--contention-factor", "0", `"abc"`},
	} {
		r := v.run(t, args...)
		fmt.Printf("$ %v\n%s\n", args, r)
		if r.code == 0 {
			d := v.run(t, "decrypt", strings.TrimSpace(r.stdout))
			fmt.Printf("  decrypt -> %s\n", d)
		}
	}
}
