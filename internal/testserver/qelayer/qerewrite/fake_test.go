package qerewrite

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// fakeCrypto is a Crypto whose tags are SHA-256 of the payload: a find
// payload matches the one tag sha256(payload); an insert payload's stored
// value carries its tag:
//
//	stored = subtype(1) || key UUID(16) || BSON type(1) || tag(32)
type fakeCrypto struct {
	inserts int
	finds   int
}

var _ Crypto = (*fakeCrypto)(nil)

func fakeTag(payload []byte) []byte {
	h := sha256.Sum256(payload)
	return h[:]
}

func (c *fakeCrypto) Insert(_ context.Context, f *Field, payload []byte) ([]byte, [][]byte, error) {
	c.inserts++
	p, err := parseInsertPayload(payload)
	if err != nil {
		return nil, nil, err
	}
	st := fleblob.FLE2IndexedEqualityEncryptedValueV2
	switch p.kind {
	case kindRange:
		st = fleblob.FLE2IndexedRangeEncryptedValueV2
	case kindText:
		st = fleblob.FLE2IndexedTextEncryptedValue
	}
	tag := fakeTag(payload)
	stored := append([]byte{byte(st)}, p.indexKeyID...)
	stored = append(stored, byte(p.bsonType))
	stored = append(stored, tag...)
	return stored, [][]byte{tag}, nil
}

func (c *fakeCrypto) FindTags(_ context.Context, f *Field, payload []byte) ([][]byte, error) {
	c.finds++
	return [][]byte{fakeTag(payload)}, nil
}

func (c *fakeCrypto) StoredTags(stored []byte) ([][]byte, error) {
	if len(stored) != 50 {
		return nil, errors.New("fake: bad stored value")
	}
	return [][]byte{stored[18:]}, nil
}

// payload11 is a fake FLE2InsertUpdatePayloadV2 for a field: u, t, v, and g
// for range, b for text.
func payload11(f *Field, value string) bson.Binary {
	b := bsoncore.NewDocumentBuilder().
		AppendBinary("u", 4, f.KeyID).
		AppendInt32("t", int32(bsonTypes[f.BSONType])).
		AppendBinary("v", 0, []byte(value))
	switch f.kind() {
	case kindRange:
		b.AppendArray("g", bsoncore.NewArrayBuilder().Build())
	case kindText:
		b.AppendDocument("b", bsoncore.NewDocumentBuilder().Build())
	}
	return bson.Binary{Subtype: 6, Data: append([]byte{byte(fleblob.FLE2InsertUpdatePayloadV2)}, b.Build()...)}
}

// payload12 is a fake find equality payload.
func payload12(value string) bson.Binary {
	d := bsoncore.NewDocumentBuilder().AppendBinary("d", 0, []byte(value)).Build()
	return bson.Binary{Subtype: 6, Data: append([]byte{byte(fleblob.FLE2FindEqualityPayloadV2)}, d...)}
}

// payload13 is a fake find range payload; stub leaves out "payload".
func payload13(id, first, second int32, stub bool) bson.Binary {
	b := bsoncore.NewDocumentBuilder()
	if !stub {
		b.AppendDocument("payload", bsoncore.NewDocumentBuilder().AppendInt32("x", id).Build())
	}
	b.AppendInt32("payloadId", id).AppendInt32("firstOperator", first)
	if second != 0 {
		b.AppendInt32("secondOperator", second)
	}
	return bson.Binary{Subtype: 6, Data: append([]byte{byte(fleblob.FLE2FindRangePayloadV2)}, b.Build()...)}
}

// payload18 is a fake find text payload.
func payload18(value string) bson.Binary {
	d := bsoncore.NewDocumentBuilder().AppendBinary("t", 0, []byte(value)).Build()
	return bson.Binary{Subtype: 6, Data: append([]byte{byte(fleblob.FLE2FindTextPayload)}, d...)}
}

func mustRaw(v any) bson.Raw {
	b, err := bson.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
