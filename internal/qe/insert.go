package qe

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// tokenSet is one set of tokens of an edge or a text substring:
//
//	{d: EDC derived token, s: ESC derived token, l: server derived token, p: encrypted tokens}
//
// p is absent from the sets of find payloads.
type tokenSet struct {
	edc, esc, server Token
	encrypted        []byte
}

// appendTo appends the set as a document under key.
func (s *tokenSet) appendTo(dst []byte, key string) []byte {
	idx, dst := bsoncore.AppendDocumentElementStart(dst, key)
	dst = bsoncore.AppendBinaryElement(dst, "d", binaryGeneric, s.edc[:])
	dst = bsoncore.AppendBinaryElement(dst, "s", binaryGeneric, s.esc[:])
	dst = bsoncore.AppendBinaryElement(dst, "l", binaryGeneric, s.server[:])
	if s.encrypted != nil {
		dst = bsoncore.AppendBinaryElement(dst, "p", binaryGeneric, s.encrypted)
	}
	dst, _ = bsoncore.AppendDocumentEnd(dst, idx)
	return dst
}

// tokenSetSize bounds the serialized size of one token set in an array: a document of four
// binaries (three tokens and a 51-byte encrypted token) under a key of up to 6 digits.
const tokenSetSize = 1 + 7 + 4 + 3*(1+2+4+1+TokenLen) + (1 + 2 + 4 + 1 + 51) + 1

// appendTokenSets appends an array of token sets under key.
func appendTokenSets(dst []byte, key string, sets []tokenSet) []byte {
	idx, dst := bsoncore.AppendArrayElementStart(dst, key)
	for i := range sets {
		dst = sets[i].appendTo(dst, arrayKey(i))
	}
	dst, _ = bsoncore.AppendArrayEnd(dst, idx)
	return dst
}

// arrayKey returns the key of array element i.
func arrayKey(i int) string {
	if i < len(smallKeys) {
		return smallKeys[i]
	}
	return fmt.Sprint(i)
}

var smallKeys = func() []string {
	k := make([]string, 256)
	for i := range k {
		k[i] = fmt.Sprint(i)
	}
	return k
}()

// textTokenSets is "b" of a text search insert: {e: exact set, s: [substring sets],
// u: [suffix sets], p: [prefix sets]}.
type textTokenSets struct {
	exact                          tokenSet
	substrings, suffixes, prefixes []tokenSet
}

// insertPayload is an FLE2InsertUpdatePayloadV2 (blob subtype 11), serialized as
//
//	{d: bin, s: bin, p: bin, u: UUID, t: int32, v: bin, e: bin, l: bin, k: int64,
//	 g: [edge sets], sp: int64, pn: int32 (optional), tf: int32, mn: any, mx: any   (range)
//	 b: text token sets                                                             (text)}
//
// v is the user key id followed by FLE2v2AEAD(user key, value, AAD = user key id).
type insertPayload struct {
	edc, esc         Token
	encryptedTokens  []byte
	indexKeyID       KeyID
	valueType        byte
	value            []byte
	serverEncryption Token
	serverDerived    Token
	contention       int64

	isRange            bool
	edges              []tokenSet
	sparsity           int64
	precision          *int32
	trimFactor         int32
	indexMin, indexMax bsoncore.Value

	text *textTokenSets
}

// marshal returns the blob: subtype 11 followed by the BSON document.
func (p *insertPayload) marshal() []byte {
	sets := len(p.edges)
	if p.text != nil {
		sets += 1 + len(p.text.substrings) + len(p.text.suffixes) + len(p.text.prefixes)
	}
	idx, doc := bsoncore.AppendDocumentStart(make([]byte, 1, 512+len(p.value)+sets*tokenSetSize))
	doc[0] = byte(fleblob.FLE2InsertUpdatePayloadV2)
	doc = bsoncore.AppendBinaryElement(doc, "d", binaryGeneric, p.edc[:])
	doc = bsoncore.AppendBinaryElement(doc, "s", binaryGeneric, p.esc[:])
	doc = bsoncore.AppendBinaryElement(doc, "p", binaryGeneric, p.encryptedTokens)
	doc = bsoncore.AppendBinaryElement(doc, "u", binaryUUID, p.indexKeyID[:])
	doc = bsoncore.AppendInt32Element(doc, "t", int32(p.valueType))
	doc = bsoncore.AppendBinaryElement(doc, "v", binaryGeneric, p.value)
	doc = bsoncore.AppendBinaryElement(doc, "e", binaryGeneric, p.serverEncryption[:])
	doc = bsoncore.AppendBinaryElement(doc, "l", binaryGeneric, p.serverDerived[:])
	doc = bsoncore.AppendInt64Element(doc, "k", p.contention)
	if p.isRange {
		doc = appendTokenSets(doc, "g", p.edges)
		doc = bsoncore.AppendInt64Element(doc, "sp", p.sparsity)
		if p.precision != nil {
			doc = bsoncore.AppendInt32Element(doc, "pn", *p.precision)
		}
		doc = bsoncore.AppendInt32Element(doc, "tf", p.trimFactor)
		doc = bsoncore.AppendValueElement(doc, "mn", p.indexMin)
		doc = bsoncore.AppendValueElement(doc, "mx", p.indexMax)
	}
	if p.text != nil {
		bidx, d := bsoncore.AppendDocumentElementStart(doc, "b")
		d = p.text.exact.appendTo(d, "e")
		d = appendTokenSets(d, "s", p.text.substrings)
		d = appendTokenSets(d, "u", p.text.suffixes)
		d = appendTokenSets(d, "p", p.text.prefixes)
		doc, _ = bsoncore.AppendDocumentEnd(d, bidx)
	}
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// indexKeys holds the data keys and root tokens an insert or find needs.
type indexKeys struct {
	root *rootTokens
	ecoc *aead.FLE2CTR
}

func loadIndexKeys(keys KeyFunc, indexKeyID KeyID) (*indexKeys, error) {
	k, err := dataKey(keys, indexKeyID)
	if err != nil {
		return nil, err
	}
	root := deriveRootTokens(tokenKeyOf(k))
	ecoc, err := aead.NewFLE2CTR(root.ecoc[:])
	if err != nil {
		return nil, err
	}
	return &indexKeys{root: root, ecoc: ecoc}, nil
}

// Suffixes appended to the ESC token before it is encrypted under the ECOC token ("p").
const (
	msizeBytes     = 3 // text search: msize as 3 little-endian bytes
	isLeafSuffixOn = 1 // range: isLeaf as one byte
)

// encryptTokens returns p := EncryptCTR(ECOCToken, esc || suffix) with a random IV, where
// suffix is nothing (equality), isLeaf as one byte (range) or msize as 3 little-endian bytes
// (text search).
func (k *indexKeys) encryptTokens(rng io.Reader, esc Token, suffix []byte) ([]byte, error) {
	iv, err := newIV(rng)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, 0, TokenLen+msizeBytes)
	plain = append(append(plain, esc[:]...), suffix...)
	return k.ecoc.Encrypt(make([]byte, 0, ivLen+len(plain)), iv, plain)
}

func isLeafSuffix(leaf bool) []byte {
	if leaf {
		return []byte{isLeafSuffixOn}
	}
	return []byte{0}
}

func msizeSuffix(msize uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], msize)
	return b[:msizeBytes]
}

// encryptValue returns userKeyID || FLE2v2AEAD(user key, IV, plaintext, AAD = userKeyID).
func encryptValue(keys KeyFunc, rng io.Reader, userKeyID KeyID, plaintext []byte) ([]byte, error) {
	k, err := dataKey(keys, userKeyID)
	if err != nil {
		return nil, err
	}
	a, err := aead.NewFLE2v2AEAD(k)
	if err != nil {
		return nil, err
	}
	iv, err := newIV(rng)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(userKeyID)+a.CiphertextLen(len(plaintext)))
	out = append(out, userKeyID[:]...)
	out, err = a.Encrypt(out, iv, userKeyID[:], plaintext)
	if err != nil {
		return nil, fmt.Errorf("qe: encrypting value: %w", err)
	}
	return out, nil
}

// insertCommon builds the fields shared by every insert payload for the value v (raw BSON
// value bytes of type valueType) with token suffix tokenSuffix, consuming randomness in
// libmongocrypt's order: contention factor, then the IV of p, then the IV of v.
func insertCommon(p *Placeholder, keys KeyFunc, rng io.Reader, valueType byte, v []byte, tokenSuffix []byte) (*insertPayload, *indexKeys, error) {
	cf, err := chooseContentionFactor(rng, p.MaxContentionFactor)
	if err != nil {
		return nil, nil, err
	}
	ik, err := loadIndexKeys(keys, p.IndexKeyID)
	if err != nil {
		return nil, nil, err
	}
	t := ik.root.equalityDeriver().forInsert(v, uint64(cf))
	out := &insertPayload{
		edc:              t.edc,
		esc:              t.esc,
		indexKeyID:       p.IndexKeyID,
		valueType:        valueType,
		serverEncryption: ik.root.serverDataEncryption,
		serverDerived:    t.server,
		contention:       cf,
	}
	if out.encryptedTokens, err = ik.encryptTokens(rng, t.esc, tokenSuffix); err != nil {
		return nil, nil, err
	}
	if out.value, err = encryptValue(keys, rng, p.UserKeyID, v); err != nil {
		return nil, nil, err
	}
	return out, ik, nil
}

// encryptEqualityInsert returns the FLE2InsertUpdatePayloadV2 of an equality placeholder.
func (p *Placeholder) encryptEqualityInsert(keys KeyFunc, rng io.Reader) ([]byte, error) {
	v := p.value()
	payload, _, err := insertCommon(p, keys, rng, byte(v.Type), v.Data, nil)
	if err != nil {
		return nil, err
	}
	return payload.marshal(), nil
}
