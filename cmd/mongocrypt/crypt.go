package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxValueBytes bounds a value read from stdin: the largest BSON document.
const maxValueBytes = 16 << 20

// Algorithm names of the CSFLE algorithms.
const (
	algoDeterministic = "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
	algoRandom        = "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
)

// algorithms are the encryption algorithms of --algorithm: the short name of the command line
// and the library's name. Both are accepted, in any case; the help lists them from here.
var algorithms = []struct{ short, name string }{
	{"deterministic", algoDeterministic},
	{"random", algoRandom},
	{"indexed", "Indexed"},
	{"unindexed", "Unindexed"},
	{"range", "Range"},
	{"string", "String"},
}

// algorithmNames lists the names --algorithm accepts, short names first.
func algorithmNames() []string {
	var short, full []string
	for _, a := range algorithms {
		short = append(short, a.short)
		if !strings.EqualFold(a.short, a.name) {
			full = append(full, a.name)
		}
	}
	return append(short, full...)
}

// parseAlgorithm returns the library's name of an algorithm given by its short or full name.
func parseAlgorithm(s string) (string, error) {
	for _, a := range algorithms {
		if strings.EqualFold(s, a.short) || strings.EqualFold(s, a.name) {
			return a.name, nil
		}
	}
	return "", usagef("--algorithm %q is not an algorithm: want one of %s", s, strings.Join(algorithmNames(), ", "))
}

// algorithmUsage is the help of --algorithm: the list of names, which a test reads back, the
// short ones on a line and the full ones on the next.
func algorithmUsage() string {
	names := algorithmNames()
	return "the encryption `ALGORITHM` (required), one of (in any case):\n" +
		strings.Join(names[:len(algorithms)], ", ") + ",\n" + strings.Join(names[len(algorithms):], ", ")
}

func encryptSpec() *cmdSpec {
	return &cmdSpec{
		path:    "encrypt",
		args:    "[VALUE | -]",
		summary: "encrypt one value given as Extended JSON",
		desc: `Encrypts VALUE, one BSON value written as Extended JSON (canonical or relaxed: "text", 42,
{"$numberLong":"42"}, {"$date":"2026-01-02T03:04:05Z"}, {"a":1}...), with the data key named by
--key-id or --key-alt-name, and prints the ciphertext (a binary of subtype 6) as Extended JSON or,
with --output base64, as the base64 of its bytes. Without VALUE, or with "-", the value is read
from stdin, which keeps it out of the process list.

--algorithm names the algorithm, in any case: deterministic and random are short for the CSFLE
algorithms AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic and -Random; indexed, unindexed, range and
string for the Queryable Encryption algorithms Indexed, Unindexed, Range and String, which take
--query-type, --contention-factor, --range and --string as the driver's EncryptOptions do, and
need a key id: --key-alt-name is looked up first. With --query-type the result is the payload of
a query.

A string VALUE is quoted as JSON, and the quotes kept from the shell: '"457-55-5462"'.

--expression encrypts a range query instead of a value (the library's EncryptExpression): VALUE
is {"$and":[{"FIELD":{"$gte":LOW}},{"FIELD":{"$lt":HIGH}}]} (or the aggregate form), and the
output is the encrypted expression as canonical Extended JSON.`,
		examples: []string{
			`mongocrypt encrypt --key-alt-name billing --algorithm deterministic '"457-55-5462"'`,
			`echo '{"$numberLong":"42"}' | mongocrypt encrypt --key-id 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b --algorithm random --output base64`,
			`mongocrypt encrypt --key-alt-name qe --algorithm Indexed --contention-factor 8 '"457-55-5462"'`,
			`mongocrypt encrypt --key-alt-name qe --algorithm Range --contention-factor 0 --range '{"min":0,"max":200,"sparsity":1,"trimFactor":1}' 42`,
			`mongocrypt encrypt --key-alt-name qe --algorithm Range --query-type range --contention-factor 0 --range '{"min":0,"max":200,"sparsity":1,"trimFactor":1}' --expression '{"$and":[{"age":{"$gte":30}},{"age":{"$lt":40}}]}'`,
		},
		maxArgs:   1,
		valueArgs: true,
		connects:  true,
		setup: func(fs *flag.FlagSet) runFunc {
			keyIDFlag := fs.String("key-id", "", "the `UUID` of the data key")
			altName := fs.String("key-alt-name", "", "the keyAltName `NAME` of the data key (instead of --key-id)")
			algorithm := fs.String("algorithm", "", algorithmUsage())
			queryType := fs.String("query-type", "", "the Queryable Encryption query `TYPE` (equality, range, prefixPreview,\nsuffixPreview, substringPreview...): encrypts the payload of a query")
			contention := fs.Int64("contention-factor", 0, "the Queryable Encryption contention `FACTOR` (Indexed, Range, String)")
			rangeOpts := fs.String("range", "", "the range options of the Range algorithm, a `JSON` document\n{\"min\":..,\"max\":..,\"sparsity\":..,\"trimFactor\":..,\"precision\":..}")
			stringOpts := fs.String("string", "", "the string options of the String algorithm, a `JSON` document\n{\"caseSensitive\":..,\"diacriticSensitive\":..,\"prefix\":{\"strMinQueryLength\":..,\"strMaxQueryLength\":..},\n\"suffix\":{..},\"substring\":{\"strMaxLength\":..,\"strMinQueryLength\":..,\"strMaxQueryLength\":..}}")
			expression := fs.Bool("expression", false, "VALUE is a range query expression, encrypted with EncryptExpression")
			output := fs.String("output", "ejson", "the output `FORMAT`: ejson (canonical Extended JSON) or base64")
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				opts := options.Encrypt()
				var keyID bson.Binary
				switch {
				case *keyIDFlag != "" && *altName != "":
					return usagef("give --key-id or --key-alt-name, not both")
				case *keyIDFlag != "":
					id, ok := parseUUID(*keyIDFlag)
					if !ok {
						return usagef("--key-id %q is not a UUID", *keyIDFlag)
					}
					keyID = id
				case *altName == "":
					return usagef("--key-id or --key-alt-name is required")
				}
				if *algorithm == "" {
					return usagef("--algorithm is required")
				}
				algo, err := parseAlgorithm(*algorithm)
				if err != nil {
					return err
				}
				opts.SetAlgorithm(algo)
				if *queryType != "" {
					opts.SetQueryType(*queryType)
				}
				if flagSet(fs, "contention-factor") {
					opts.SetContentionFactor(*contention)
				}
				if *rangeOpts != "" {
					ro, err := parseRangeOptions(*rangeOpts)
					if err != nil {
						return err
					}
					opts.SetRangeOptions(ro)
				}
				if *stringOpts != "" {
					so, err := parseStringOptions(*stringOpts)
					if err != nil {
						return err
					}
					opts.SetStringOptions(so)
				}
				if *output != "ejson" && *output != "base64" {
					return usagef("--output must be ejson or base64")
				}
				if *expression && *output != "ejson" {
					return usagef("--expression prints Extended JSON: --output base64 does not apply")
				}
				text, err := a.valueArg(args)
				if err != nil {
					return err
				}
				val, err := parseValue(text)
				if err != nil {
					return usagef("VALUE is %v%s", err, quoteHint(text))
				}
				if *expression && val.Type != bson.TypeEmbeddedDocument {
					return usagef("with --expression, VALUE must be a document, not %s", typeName(val.Type))
				}
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				switch {
				case keyID.Data != nil:
					opts.SetKeyID(keyID)
				case algo == algoDeterministic || algo == algoRandom:
					opts.SetKeyAltName(*altName)
				default:
					// Queryable Encryption names its key by id only: look the name up.
					doc, err := s.resolveKeyByAltName(ctx, *altName)
					if err != nil {
						return err
					}
					if keyID, err = keyIDOf(doc); err != nil {
						return err
					}
					opts.SetKeyID(keyID)
				}
				if *expression {
					var out bson.Raw
					if err := s.ce.EncryptExpression(ctx, bson.Raw(val.Value), &out, opts); err != nil {
						return fmt.Errorf("encrypting the expression with %s: %w", algo, err)
					}
					b, err := bson.MarshalExtJSON(out, true, false)
					if err != nil {
						return fmt.Errorf("writing the expression as Extended JSON: %w", err)
					}
					_, err = fmt.Fprintf(a.stdout, "%s\n", b)
					return err
				}
				ct, err := s.ce.Encrypt(ctx, val, opts)
				if err != nil {
					return fmt.Errorf("encrypting with %s: %w", algo, err)
				}
				if *output == "base64" {
					_, err = fmt.Fprintln(a.stdout, base64.StdEncoding.EncodeToString(ct.Data))
					return err
				}
				out, err := formatValue(bson.RawValue{Type: bson.TypeBinary, Value: binaryValue(ct)}, true)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(a.stdout, out)
				return err
			}
		},
	}
}

// quoteHint is the advice for a VALUE that is not Extended JSON and does not start as a
// document, an array or a string would: most likely a string without its JSON quotes. It
// never repeats the value, which is the plaintext.
func quoteHint(text string) string {
	if t := strings.TrimSpace(text); t != "" && strings.ContainsRune(`{["`, rune(t[0])) {
		return ""
	}
	return `; to encrypt a string, quote it as JSON, as in '"text"'`
}

// binaryValue encodes a binary as the bytes of a BSON value.
func binaryValue(b bson.Binary) []byte {
	n := len(b.Data)
	v := []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), b.Subtype}
	return append(v, b.Data...)
}

// valueArg returns the VALUE argument, or stdin when it is absent or "-".
func (a *app) valueArg(args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return args[0], nil
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxValueBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the value from stdin: %w", err)
	}
	if len(b) > maxValueBytes {
		return "", usagef("the value on stdin is larger than %d bytes", maxValueBytes)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", usagef("no VALUE: give it as an argument or on stdin")
	}
	return s, nil
}

// parseRangeOptions reads --range: {"min", "max", "sparsity", "trimFactor", "precision"}, as
// Extended JSON so that min and max keep their BSON types.
func parseRangeOptions(s string) (*options.RangeOptionsBuilder, error) {
	doc, err := parseSecretDocument(s, "--range")
	if err != nil {
		return nil, err
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, usagef("--range: %v", err)
	}
	ro := options.Range()
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "min":
			ro.SetMin(v)
		case "max":
			ro.SetMax(v)
		case "sparsity", "trimFactor", "precision":
			n, ok := v.AsInt64OK()
			if !ok {
				return nil, usagef("--range: %s must be an integer", e.Key())
			}
			switch e.Key() {
			case "sparsity":
				ro.SetSparsity(n)
			case "trimFactor":
				ro.SetTrimFactor(int32(n))
			case "precision":
				ro.SetPrecision(int32(n))
			}
			if e.Key() != "sparsity" && int64(int32(n)) != n {
				return nil, usagef("--range: %s is out of range", e.Key())
			}
		default:
			return nil, usagef("--range: unknown field %q (known: min, max, sparsity, trimFactor, precision)", e.Key())
		}
	}
	return ro, nil
}

// stringOptions is the JSON shape of --string.
type stringOptions struct {
	CaseSensitive      *bool `json:"caseSensitive"`
	DiacriticSensitive *bool `json:"diacriticSensitive"`
	Prefix             *struct {
		StrMinQueryLength int32 `json:"strMinQueryLength"`
		StrMaxQueryLength int32 `json:"strMaxQueryLength"`
	} `json:"prefix"`
	Suffix *struct {
		StrMinQueryLength int32 `json:"strMinQueryLength"`
		StrMaxQueryLength int32 `json:"strMaxQueryLength"`
	} `json:"suffix"`
	Substring *struct {
		StrMaxLength      int32 `json:"strMaxLength"`
		StrMinQueryLength int32 `json:"strMinQueryLength"`
		StrMaxQueryLength int32 `json:"strMaxQueryLength"`
	} `json:"substring"`
}

// parseStringOptions reads --string into the driver's StringOptions.
func parseStringOptions(s string) (*options.StringOptionsBuilder, error) {
	var o stringOptions
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, usagef("--string is not a valid string options document: %v", err)
	}
	so := options.String()
	if o.CaseSensitive != nil {
		so.SetCaseSensitive(*o.CaseSensitive)
	}
	if o.DiacriticSensitive != nil {
		so.SetDiacriticSensitive(*o.DiacriticSensitive)
	}
	if p := o.Prefix; p != nil {
		so.SetPrefix(options.PrefixOptions{StrMinQueryLength: p.StrMinQueryLength, StrMaxQueryLength: p.StrMaxQueryLength})
	}
	if p := o.Suffix; p != nil {
		so.SetSuffix(options.SuffixOptions{StrMinQueryLength: p.StrMinQueryLength, StrMaxQueryLength: p.StrMaxQueryLength})
	}
	if p := o.Substring; p != nil {
		so.SetSubstring(options.SubstringOptions{StrMaxLength: p.StrMaxLength, StrMinQueryLength: p.StrMinQueryLength, StrMaxQueryLength: p.StrMaxQueryLength})
	}
	return so, nil
}

func decryptSpec() *cmdSpec {
	return &cmdSpec{
		path:    "decrypt",
		args:    "[VALUE | -]",
		summary: "decrypt an encrypted value, or the encrypted values of a document",
		desc: `Decrypts VALUE, an encrypted value (a binary of subtype 6) given as Extended JSON
({"$binary":{"base64":"...","subType":"06"}}) or as the base64 of its bytes, and prints the
plaintext as canonical Extended JSON (--relaxed: relaxed Extended JSON). VALUE may also be a
document or an array, as a find prints it: every encrypted value in it, at any depth, is
decrypted in place and the whole is printed. Without VALUE, or with "-", the value is read from
stdin. The data key is found in the key vault by the id the ciphertext carries.

A VALUE that holds nothing to decrypt fails (exit status 1): a value that is not a binary of
subtype 6, a document or array without one, or only placeholders and payloads of queries (which
are encrypted for the server, not stored).`,
		examples: []string{
			`mongocrypt decrypt '{"$binary":{"base64":"AR...","subType":"06"}}'`,
			`mongocrypt encrypt --key-alt-name billing --algorithm random --output base64 '"x"' | mongocrypt decrypt`,
			`mongocrypt decrypt --relaxed '{"_id":1,"ssn":{"$binary":{"base64":"AR...","subType":"06"}}}'`,
		},
		maxArgs:   1,
		valueArgs: true,
		connects:  true,
		setup: func(fs *flag.FlagSet) runFunc {
			relaxed := fs.Bool("relaxed", false, "print relaxed Extended JSON (numbers and dates as plain JSON)")
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				text, err := a.valueArg(args)
				if err != nil {
					return err
				}
				in, err := parseDecryptValue(text)
				if err != nil {
					return err
				}
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				d := &decrypter{ce: s.ce}
				out, err := d.value(ctx, in, "")
				if err != nil {
					return err
				}
				if err := d.check(in); err != nil {
					return err
				}
				if d.left > 0 {
					fmt.Fprintf(a.stderr, "mongocrypt decrypt: %s left as in VALUE: placeholders and payloads of queries are not stored values\n",
						plural(d.left, "encrypted value"))
				}
				res, err := formatValue(out, !*relaxed)
				if err != nil {
					return fmt.Errorf("writing the value as Extended JSON: %w", err)
				}
				_, err = fmt.Fprintln(a.stdout, res)
				return err
			}
		},
	}
}

// parseDecryptValue reads the VALUE of decrypt: Extended JSON (an encrypted binary, or a
// document or an array holding some), or the base64 of an encrypted value. Text that is
// neither is a usage error; a value that holds no binary of subtype 6 is a failure. The errors
// name the type of the value, never the value.
func parseDecryptValue(text string) (bson.RawValue, error) {
	if json.Valid([]byte(text)) {
		v, err := parseValue(text)
		if err != nil {
			return bson.RawValue{}, usagef("VALUE is %v", err)
		}
		switch v.Type {
		case bson.TypeBinary:
			if st, _, _ := v.BinaryOK(); st != bson.TypeBinaryEncrypted {
				return bson.RawValue{}, fmt.Errorf("VALUE is a binary of subtype %d, not an encrypted value (a binary of subtype 6): nothing to decrypt", st)
			}
		case bson.TypeEmbeddedDocument, bson.TypeArray:
			if countEncrypted(v) == 0 {
				return bson.RawValue{}, fmt.Errorf("VALUE is %s with no encrypted value in it (no binary of subtype 6): nothing to decrypt", typeName(v.Type))
			}
		default:
			return bson.RawValue{}, fmt.Errorf("VALUE is %s, not an encrypted value (a binary of subtype 6): nothing to decrypt", typeName(v.Type))
		}
		return v, nil
	}
	data, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(data) == 0 {
		return bson.RawValue{}, usagef("VALUE is neither Extended JSON nor base64")
	}
	return bson.RawValue{Type: bson.TypeBinary, Value: binaryValue(bson.Binary{Subtype: bson.TypeBinaryEncrypted, Data: data})}, nil
}

// typeName names a BSON type with its article: "a string", "an array".
func typeName(t bson.Type) string {
	name := t.String()
	switch {
	case t == bson.TypeEmbeddedDocument:
		return "a document"
	case t == bson.TypeNull:
		return "null"
	case strings.ContainsRune("aeiouAEIO", rune(name[0])):
		return "an " + name
	}
	return "a " + name
}

// countEncrypted counts the binaries of subtype 6 in v, at any depth.
func countEncrypted(v bson.RawValue) int {
	switch v.Type {
	case bson.TypeBinary:
		if st, _, _ := v.BinaryOK(); st == bson.TypeBinaryEncrypted {
			return 1
		}
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		vals, err := bson.Raw(v.Value).Values()
		if err != nil {
			return 0
		}
		n := 0
		for _, e := range vals {
			n += countEncrypted(e)
		}
		return n
	}
	return 0
}

// decrypter decrypts the encrypted values of a value and counts what it did.
type decrypter struct {
	ce interface {
		Decrypt(context.Context, bson.Binary) (bson.RawValue, error)
	}
	decrypted int // the stored values decrypted
	left      int // the placeholders and payloads of queries, which the library returns as they are
	subtype   byte
}

// value returns v with every encrypted value in it decrypted. path names the field of a
// failure ("" for VALUE itself).
func (d *decrypter) value(ctx context.Context, v bson.RawValue, path string) (bson.RawValue, error) {
	switch v.Type {
	case bson.TypeBinary:
		st, data, _ := v.BinaryOK()
		if st != bson.TypeBinaryEncrypted {
			return v, nil
		}
		out, err := d.ce.Decrypt(ctx, bson.Binary{Subtype: st, Data: data})
		if err != nil {
			if path == "" {
				return v, fmt.Errorf("decrypting: %w", err)
			}
			return v, fmt.Errorf("decrypting %s: %w", path, err)
		}
		if ost, _, ok := out.BinaryOK(); ok && ost == bson.TypeBinaryEncrypted {
			d.left++
			if len(data) > 0 {
				d.subtype = data[0]
			}
		} else {
			d.decrypted++
		}
		return out, nil
	case bson.TypeEmbeddedDocument, bson.TypeArray:
		elems, err := bson.Raw(v.Value).Elements()
		if err != nil {
			return v, fmt.Errorf("reading VALUE: %w", err)
		}
		doc := make(bson.D, 0, len(elems))
		for _, e := range elems {
			p := e.Key()
			if path != "" {
				p = path + "." + p
			}
			nv, err := d.value(ctx, e.Value(), p)
			if err != nil {
				return v, err
			}
			doc = append(doc, bson.E{Key: e.Key(), Value: nv})
		}
		b, err := bson.Marshal(doc)
		if err != nil {
			return v, fmt.Errorf("writing the decrypted document: %w", err)
		}
		// An array is a document whose keys are "0", "1"...: the same bytes.
		return bson.RawValue{Type: v.Type, Value: b}, nil
	}
	return v, nil
}

// check fails when nothing was decrypted: VALUE held only placeholders and payloads of queries.
func (d *decrypter) check(in bson.RawValue) error {
	if d.decrypted > 0 {
		return nil
	}
	if in.Type == bson.TypeBinary {
		return fmt.Errorf("VALUE is a placeholder or the payload of a query (blob subtype %d), not an encrypted stored value: nothing to decrypt", d.subtype)
	}
	return fmt.Errorf("VALUE holds no encrypted stored value, only placeholders or payloads of queries (%s): nothing to decrypt", plural(d.left, "encrypted value"))
}

// plural writes a count and a noun: "1 key", "2 keys".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
