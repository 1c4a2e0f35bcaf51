package qe

import (
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// findEqualityPayload is an FLE2FindEqualityPayloadV2 (blob subtype 12):
//
//	{d: EDCDerivedFromDataToken, s: ESCDerivedFromDataToken, l: ServerDerivedFromDataToken,
//	 cm: int64 max contention factor}
type findEqualityPayload struct {
	tokens     valueTokens
	contention int64
}

func (p *findEqualityPayload) marshal() []byte {
	idx, doc := bsoncore.AppendDocumentStart([]byte{byte(fleblob.FLE2FindEqualityPayloadV2)})
	doc = bsoncore.AppendBinaryElement(doc, "d", binaryGeneric, p.tokens.edc[:])
	doc = bsoncore.AppendBinaryElement(doc, "s", binaryGeneric, p.tokens.esc[:])
	doc = bsoncore.AppendBinaryElement(doc, "l", binaryGeneric, p.tokens.server[:])
	doc = bsoncore.AppendInt64Element(doc, "cm", p.contention)
	doc, _ = bsoncore.AppendDocumentEnd(doc, idx)
	return doc
}

// encryptEqualityFind returns the FLE2FindEqualityPayloadV2 of an equality find placeholder.
// It uses no randomness.
func (p *Placeholder) encryptEqualityFind(keys KeyFunc) ([]byte, error) {
	ik, err := loadIndexKeys(keys, p.IndexKeyID)
	if err != nil {
		return nil, err
	}
	fp := findEqualityPayload{
		tokens:     ik.root.equalityDeriver().forFind(p.Value.Value),
		contention: p.MaxContentionFactor,
	}
	return fp.marshal(), nil
}
