package text

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// benchText returns n bytes of text: ASCII words, or (mixed) a mix of
// ASCII, accented Latin, Cyrillic and combining marks that folding changes.
func benchText(n int, mixed bool) string {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"lorem", "Ipsum", "dolor", "SIT", "amet"}
	if mixed {
		words = append(words, "Düsseldorf", "ÀÉÎÕÜ", "СКОЛЬКО", "cafe\u0301", "Πόσο")
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	s := b.String()[:n]
	for !utf8.ValidString(s) { // cut on a code point boundary
		s = s[:len(s)-1]
	}
	return s
}

func BenchmarkStrEncode(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, mixed := range []bool{false, true} {
			s := benchText(size, mixed)
			mlen := int32(len(s))
			cases := []struct {
				name string
				spec Spec
			}{
				{"prefix+suffix", Spec{Value: s, CaseFold: true, DiacriticFold: true,
					Prefix: &AffixSpec{LB: 2, UB: 100}, Suffix: &AffixSpec{LB: 2, UB: 100}}},
				{"substring-3-10", Spec{Value: s, CaseFold: true, DiacriticFold: true,
					Substring: &SubstringSpec{MLen: mlen, LB: 3, UB: 10}}},
				{"substring-2-60", Spec{Value: s, CaseFold: true, DiacriticFold: true,
					Substring: &SubstringSpec{MLen: mlen, LB: 2, UB: 60}}},
			}
			for _, c := range cases {
				name := fmt.Sprintf("%dKiB/%s/%s", size>>10, map[bool]string{false: "ascii", true: "mixed"}[mixed], c.name)
				b.Run(name, func(b *testing.B) {
					b.SetBytes(int64(len(s)))
					b.ReportAllocs()
					var tags uint32
					for b.Loop() {
						sets, err := StrEncode(&c.spec)
						if err != nil {
							b.Fatal(err)
						}
						tags = sets.MSize
					}
					b.ReportMetric(float64(tags), "tags")
				})
			}
		}
	}
}

func BenchmarkFold(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, mixed := range []bool{false, true} {
			s := benchText(size, mixed)
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, map[bool]string{false: "ascii", true: "mixed"}[mixed]), func(b *testing.B) {
				b.SetBytes(int64(len(s)))
				for b.Loop() {
					if _, err := Fold(s, true, true); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
