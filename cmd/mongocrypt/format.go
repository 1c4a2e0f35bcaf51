package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// uuidString formats 16 bytes as a canonical UUID.
func uuidString(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parseUUID parses a key id: a canonical UUID, 32 hex digits, or Extended JSON
// ({"$uuid": "..."} or {"$binary": {..., "subType": "04"}}).
func parseUUID(s string) (bson.Binary, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		v, err := parseValue(s)
		if err != nil {
			return bson.Binary{}, false
		}
		if st, data, ok := v.BinaryOK(); ok && st == bson.TypeBinaryUUID && len(data) == 16 {
			return bson.Binary{Subtype: bson.TypeBinaryUUID, Data: data}, true
		}
		return bson.Binary{}, false
	}
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return bson.Binary{}, false
		}
		h = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(h) != 32 {
		return bson.Binary{}, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return bson.Binary{}, false
	}
	return bson.Binary{Subtype: bson.TypeBinaryUUID, Data: b}, true
}

// parseValue parses one BSON value written as Extended JSON (canonical or relaxed): "text",
// 42, {"$numberLong": "42"}, {"$date": "..."}, {"a": 1}...
func parseValue(s string) (bson.RawValue, error) {
	// The driver's parser stops after the first document: check first that s is one JSON
	// value and nothing else.
	if !json.Valid([]byte(s)) {
		return bson.RawValue{}, errors.New("not a valid Extended JSON value")
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(`{"v":`+s+"\n}"), false, &doc); err != nil {
		return bson.RawValue{}, errors.New("not a valid Extended JSON value")
	}
	elems, err := doc.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "v" {
		return bson.RawValue{}, errors.New("not a single Extended JSON value")
	}
	return elems[0].Value(), nil
}

// parseDocument parses an Extended JSON document (a filter, a master key).
func parseDocument(s, what string) (bson.Raw, error) {
	if !json.Valid([]byte(s)) {
		return nil, usagef("%s is not an Extended JSON document: not valid JSON", what)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &doc); err != nil {
		return nil, usagef("%s is not an Extended JSON document: %v", what, err)
	}
	return doc, nil
}

// parseSecretDocument is parseDocument for a document whose values are secret (the bounds of
// --range): its errors do not quote it, as the Extended JSON parser's do ("parsing "42x"").
func parseSecretDocument(s, what string) (bson.Raw, error) {
	if !json.Valid([]byte(s)) {
		return nil, usagef("%s is not an Extended JSON document: not valid JSON", what)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &doc); err != nil {
		return nil, usagef("%s is not an Extended JSON document: a value is not valid Extended JSON", what)
	}
	return doc, nil
}

// formatValue writes one BSON value as Extended JSON.
func formatValue(v bson.RawValue, canonical bool) (string, error) {
	doc := bson.D{{Key: "v", Value: v}}
	b, err := bson.MarshalExtJSON(doc, canonical, false)
	if err != nil {
		return "", err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	return string(m["v"]), nil
}

// keyView is what the tool shows of a key document, read leniently so that an odd document
// is still listed.
type keyView struct {
	id        string
	altNames  []string
	provider  string
	masterKey string // the master key fields other than provider, "k=v ..."
	created   string
	updated   string
	status    string
}

func viewKey(doc bson.Raw) keyView {
	var k keyView
	if _, data, ok := doc.Lookup("_id").BinaryOK(); ok {
		k.id = uuidString(data)
	} else {
		k.id = doc.Lookup("_id").String()
	}
	if arr, ok := doc.Lookup("keyAltNames").ArrayOK(); ok {
		vals, _ := arr.Values()
		for _, v := range vals {
			if s, ok := v.StringValueOK(); ok {
				k.altNames = append(k.altNames, s)
			}
		}
	}
	if mk, ok := doc.Lookup("masterKey").DocumentOK(); ok {
		k.provider, k.masterKey = summarizeMasterKey(mk)
	}
	k.created = dateString(doc.Lookup("creationDate"))
	k.updated = dateString(doc.Lookup("updateDate"))
	if n, ok := doc.Lookup("status").AsInt64OK(); ok {
		k.status = fmt.Sprint(n)
	}
	return k
}

// summarizeMasterKey returns the provider of a masterKey document and its other fields as
// "k=v ..." text.
func summarizeMasterKey(mk bson.Raw) (provider, rest string) {
	provider, _ = mk.Lookup("provider").StringValueOK()
	elems, _ := mk.Elements()
	var parts []string
	for _, e := range elems {
		if e.Key() == "provider" {
			continue
		}
		val := e.Value().String()
		if s, ok := e.Value().StringValueOK(); ok {
			val = s
		}
		parts = append(parts, e.Key()+"="+val)
	}
	return provider, strings.Join(parts, " ")
}

func dateString(v bson.RawValue) string {
	if ms, ok := v.DateTimeOK(); ok {
		return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05Z")
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortKeys orders key documents by creation date, then id.
func sortKeys(docs []bson.Raw) {
	sort.SliceStable(docs, func(i, j int) bool {
		a, _ := docs[i].Lookup("creationDate").DateTimeOK()
		b, _ := docs[j].Lookup("creationDate").DateTimeOK()
		if a != b {
			return a < b
		}
		_, ia, _ := docs[i].Lookup("_id").BinaryOK()
		_, ib, _ := docs[j].Lookup("_id").BinaryOK()
		return string(ia) < string(ib)
	})
}

// writeKeyTable writes key documents as a table.
func writeKeyTable(w io.Writer, docs []bson.Raw) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY ALT NAMES\tPROVIDER\tMASTER KEY\tCREATED\tUPDATED")
	for _, d := range docs {
		k := viewKey(d)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.id, orDash(strings.Join(k.altNames, ",")),
			orDash(k.provider), orDash(k.masterKey), k.created, k.updated)
	}
	return tw.Flush()
}

// writeKeyDetail writes one key document as "field: value" lines.
func writeKeyDetail(w io.Writer, doc bson.Raw) error {
	k := viewKey(doc)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", k.id)
	fmt.Fprintf(tw, "keyAltNames:\t%s\n", orDash(strings.Join(k.altNames, ", ")))
	fmt.Fprintf(tw, "provider:\t%s\n", orDash(k.provider))
	fmt.Fprintf(tw, "masterKey:\t%s\n", orDash(k.masterKey))
	fmt.Fprintf(tw, "creationDate:\t%s\n", k.created)
	fmt.Fprintf(tw, "updateDate:\t%s\n", k.updated)
	fmt.Fprintf(tw, "status:\t%s\n", orDash(k.status))
	return tw.Flush()
}

// keyJSON writes a key document as relaxed Extended JSON with its id as {"$uuid": ...}.
func keyJSON(doc bson.Raw) ([]byte, error) {
	b, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		return nil, err
	}
	return uuidJSON(b), nil
}

// writeKeyJSON writes one key document as indented relaxed Extended JSON.
func writeKeyJSON(w io.Writer, doc bson.Raw) error {
	b, err := keyJSON(doc)
	if err != nil {
		return fmt.Errorf("writing the key document as Extended JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("writing the key document as Extended JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", out.Bytes())
	return err
}

// writeKeysJSON writes key documents as a JSON array, one relaxed Extended JSON document a
// line, ids as {"$uuid": ...}.
func writeKeysJSON(w io.Writer, docs []bson.Raw) error {
	if len(docs) == 0 {
		_, err := fmt.Fprintln(w, "[]")
		return err
	}
	fmt.Fprintln(w, "[")
	for i, d := range docs {
		b, err := keyJSON(d)
		if err != nil {
			return fmt.Errorf("writing key %d as Extended JSON: %w", i, err)
		}
		sep := ","
		if i == len(docs)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "  %s%s\n", b, sep)
	}
	_, err := fmt.Fprintln(w, "]")
	return err
}

// libErrorPrefix is what the library's Error puts before each message of a chain: "mongocrypt
// error 3: ". The code says nothing to a person reading the line that the message does not.
var libErrorPrefix = regexp.MustCompile(`mongocrypt error [0-9]+: `)

// binaryUUID matches a UUID written as an Extended JSON binary of subtype 4 (as the driver
// prints a key id in a document or an error): {"$binary":{"base64":"...","subType":"04"}}, with
// the two fields in either order.
var binaryUUID = regexp.MustCompile(`\{\s*"\$binary"\s*:\s*\{\s*(?:"base64"\s*:\s*"([A-Za-z0-9+/]{22}==)"\s*,\s*"subType"\s*:\s*"0?4"|"subType"\s*:\s*"0?4"\s*,\s*"base64"\s*:\s*"([A-Za-z0-9+/]{22}==)")\s*\}\s*\}`)

// replaceBinaryUUIDs rewrites every Extended JSON binary UUID of s with repl applied to its
// canonical UUID text.
func replaceBinaryUUIDs(s string, repl func(uuid string) string) string {
	return binaryUUID.ReplaceAllStringFunc(s, func(m string) string {
		sub := binaryUUID.FindStringSubmatch(m)
		b, err := base64.StdEncoding.DecodeString(sub[1] + sub[2])
		if err != nil || len(b) != 16 {
			return m
		}
		return repl(uuidString(b))
	})
}

// plainErrorText is the text of an error as the tool prints it: without the library's code
// prefixes, and with key ids as UUIDs as everywhere else in the output.
func plainErrorText(s string) string {
	s = libErrorPrefix.ReplaceAllString(s, "")
	return replaceBinaryUUIDs(s, func(id string) string { return id })
}

// uuidJSON rewrites the binary UUIDs of Extended JSON text as {"$uuid":"..."}, the Extended
// JSON form that shows a UUID as the tables and messages do (every Extended JSON parser reads
// it back as the same binary of subtype 4).
func uuidJSON(b []byte) []byte {
	return []byte(replaceBinaryUUIDs(string(b), func(id string) string { return `{"$uuid":"` + id + `"}` }))
}
