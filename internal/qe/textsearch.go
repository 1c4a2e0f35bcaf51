package qe

import (
	"errors"
	"fmt"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe/text"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Text search payloads. The "v" of a text search placeholder is an FLE2TextSearchInsertSpec
// (see [text.ParseSpec]); the strings to derive tokens from come from [text.StrEncode]
// (insert) and [text.StrQuery] (find), each as a BSON string value.

// textSpec parses the spec of a text placeholder and returns it with the raw BSON value of
// its "v" string (the bytes the value tokens and the encrypted value use).
func (p *Placeholder) textSpec() (text.Spec, bsoncore.Value, error) {
	spec, err := text.ParseSpec(p.Value)
	if err != nil {
		return spec, bsoncore.Value{}, fmt.Errorf("qe: %w", err)
	}
	doc, ok := p.value().DocumentOK()
	if !ok {
		return spec, bsoncore.Value{}, errors.New("qe: FLE2TextSearchInsertSpec must be a document")
	}
	v, err := doc.LookupErr("v")
	if err != nil {
		return spec, bsoncore.Value{}, fmt.Errorf("qe: FLE2TextSearchInsertSpec: missing field 'v': %w", err)
	}
	return spec, v, nil
}

// appendTextSets derives the token sets of entries (expanding their counts) under the text
// index kind and returns them; each distinct entry costs one IV, repeated copies share it.
func appendTextSets(out []tokenSet, d *deriver, ik *indexKeys, rng io.Reader, entries []text.Entry, cf uint64) ([]tokenSet, error) {
	var buf []byte
	for _, e := range entries {
		buf = text.AppendBSONString(buf[:0], e.Value)
		t := d.forInsert(buf, cf)
		enc, err := ik.encryptTokens(rng, t.esc, msizeSuffix(0))
		if err != nil {
			return nil, err
		}
		set := tokenSet{edc: t.edc, esc: t.esc, server: t.server, encrypted: enc}
		for range e.Count {
			out = append(out, set)
		}
	}
	return out, nil
}

// encryptTextInsert returns the FLE2InsertUpdatePayloadV2 of a text search insert: the
// encrypted value, placeholder (all-zero) d, s and l, p encrypting zeros, and the token sets
// "b" of the exact string, its substrings, suffixes and prefixes.
func (p *Placeholder) encryptTextInsert(keys KeyFunc, rng io.Reader) ([]byte, error) {
	spec, v, err := p.textSpec()
	if err != nil {
		return nil, err
	}
	if spec.Substring == nil && spec.Suffix == nil && spec.Prefix == nil {
		return nil, errors.New("qe: FLE2TextSearchInsertSpec is missing a substring, suffix, or prefix index specification")
	}
	// The strings are computed before any randomness is used; the order in which random
	// bytes are consumed is libmongocrypt's: contention factor, p, v, then the token sets.
	sets, err := text.StrEncode(&spec)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	cf, err := chooseContentionFactor(rng, p.MaxContentionFactor)
	if err != nil {
		return nil, err
	}
	ik, err := loadIndexKeys(keys, p.IndexKeyID)
	if err != nil {
		return nil, err
	}
	// d, s and l are never used by the server for text search: zeros of the right length;
	// p encrypts the zero ESC token and a zero msize.
	payload := &insertPayload{
		indexKeyID:       p.IndexKeyID,
		valueType:        byte(bsoncore.TypeString),
		serverEncryption: ik.root.serverDataEncryption,
		contention:       cf,
	}
	if payload.encryptedTokens, err = ik.encryptTokens(rng, Token{}, msizeSuffix(0)); err != nil {
		return nil, err
	}
	if payload.value, err = encryptValue(keys, rng, p.UserKeyID, v.Data); err != nil {
		return nil, err
	}
	b := &textTokenSets{}
	exact := ik.root.textDeriver(labelTextExact).forInsert(text.AppendBSONString(nil, sets.Exact), uint64(cf))
	enc, err := ik.encryptTokens(rng, exact.esc, msizeSuffix(sets.MSize))
	if err != nil {
		return nil, err
	}
	b.exact = tokenSet{edc: exact.edc, esc: exact.esc, server: exact.server, encrypted: enc}
	kinds := []struct {
		label   uint64
		entries []text.Entry
		out     *[]tokenSet
	}{
		{labelTextSubstring, sets.Substrings, &b.substrings},
		{labelTextSuffix, sets.Suffixes, &b.suffixes},
		{labelTextPrefix, sets.Prefixes, &b.prefixes},
	}
	for _, k := range kinds {
		*k.out = make([]tokenSet, 0, text.Len(k.entries))
		if *k.out, err = appendTextSets(*k.out, ik.root.textDeriver(k.label), ik, rng, k.entries, uint64(cf)); err != nil {
			return nil, err
		}
	}
	payload.text = b
	return payload.marshal(), nil
}

// findTextPayload is an FLE2FindTextPayload (blob subtype 18):
//
//	{ts: {e|s|u|p: {d, s, l}}, cm: int64, cf: bool, df: bool,
//	 ss: {mlen, ub, lb} | fs: {ub, lb} | ps: {ub, lb} (the spec of the query type, if any)}
type findTextPayload struct {
	kind       string // "e", "s", "u" or "p"
	tokens     valueTokens
	contention int64
	spec       *text.Spec
}

func (p *findTextPayload) marshal() []byte {
	idx, doc := bsoncore.AppendDocumentStart([]byte{byte(fleblob.FLE2FindTextPayload)})
	tidx, d := bsoncore.AppendDocumentElementStart(doc, "ts")
	set := tokenSet{edc: p.tokens.edc, esc: p.tokens.esc, server: p.tokens.server}
	d = set.appendTo(d, p.kind)
	doc, _ = bsoncore.AppendDocumentEnd(d, tidx)
	doc = bsoncore.AppendInt64Element(doc, "cm", p.contention)
	doc = bsoncore.AppendBooleanElement(doc, "cf", p.spec.CaseFold)
	doc = bsoncore.AppendBooleanElement(doc, "df", p.spec.DiacriticFold)
	switch s := p.spec; {
	case s.Substring != nil:
		sidx, d := bsoncore.AppendDocumentElementStart(doc, "ss")
		d = bsoncore.AppendInt32Element(d, "mlen", s.Substring.MLen)
		d = bsoncore.AppendInt32Element(d, "ub", s.Substring.UB)
		d = bsoncore.AppendInt32Element(d, "lb", s.Substring.LB)
		doc, _ = bsoncore.AppendDocumentEnd(d, sidx)
	case s.Suffix != nil:
		doc = appendAffix(doc, "fs", s.Suffix)
	case s.Prefix != nil:
		doc = appendAffix(doc, "ps", s.Prefix)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

func appendAffix(dst []byte, key string, a *text.AffixSpec) []byte {
	idx, d := bsoncore.AppendDocumentElementStart(dst, key)
	d = bsoncore.AppendInt32Element(d, "ub", a.UB)
	d = bsoncore.AppendInt32Element(d, "lb", a.LB)
	d, _ = bsoncore.AppendDocumentEnd(d, idx)
	return d
}

// encryptTextFind returns the FLE2FindTextPayload of a text search find: the tokens of the
// folded query string under the index kind of the query (exact when the spec names none). It
// uses no randomness.
func (p *Placeholder) encryptTextFind(keys KeyFunc) ([]byte, error) {
	spec, _, err := p.textSpec()
	if err != nil {
		return nil, err
	}
	folded, err := text.StrQuery(&spec)
	if err != nil {
		return nil, fmt.Errorf("qe: %w", err)
	}
	ik, err := loadIndexKeys(keys, p.IndexKeyID)
	if err != nil {
		return nil, err
	}
	out := &findTextPayload{kind: "e", contention: p.MaxContentionFactor, spec: &spec}
	label := uint64(labelTextExact)
	switch {
	case spec.Substring != nil:
		out.kind, label = "s", labelTextSubstring
	case spec.Suffix != nil:
		out.kind, label = "u", labelTextSuffix
	case spec.Prefix != nil:
		out.kind, label = "p", labelTextPrefix
	}
	out.tokens = ik.root.textDeriver(label).forFind(text.AppendBSONString(nil, folded))
	return out.marshal(), nil
}
