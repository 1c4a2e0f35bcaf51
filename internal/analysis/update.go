package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// refusedUpdateOps maps the update operators that cannot touch an encrypted
// field to mongocryptd's refusal.
var refusedUpdateOps = map[string]string{
	"$inc":         "$inc and $mul not allowed on encrypted values",
	"$mul":         "$inc and $mul not allowed on encrypted values",
	"$min":         "$max and $min not allowed on encrypted values",
	"$max":         "$max and $min not allowed on encrypted values",
	"$currentDate": "$currentDate not allowed on encrypted values",
	"$pop":         "$pop not allowed on encrypted values",
	"$pull":        "$pull not allowed on encrypted values",
	"$pullAll":     "$pullAll not allowed on encrypted values",
	"$push":        "$push not allowed on encrypted values",
	"$addToSet":    "$addToSet not allowed on encrypted values",
	"$bit":         "$bit not allowed on encrypted values",
}

// updateSpec analyzes the u of an update statement or the update of
// findAndModify: an operator document, a replacement document, or a pipeline.
func (a *analyzer) updateSpec(root *node, v bsoncore.Value, qe bool) (bsoncore.Value, error) {
	switch v.Type {
	case bsoncore.TypeArray:
		if root.hasEncAnywhere() {
			return v, cmdErr("Pipelines in update are not supported by query analysis when the collection has encrypted fields")
		}
		return v, nil
	case bsoncore.TypeEmbeddedDocument:
	default:
		return v, cmdErr("update must be a document or a pipeline, got %s", typeName(v.Type))
	}
	if !isOperatorDoc(v) {
		for _, e := range elements(v.Data) {
			if strings.HasPrefix(e.Key(), "$") {
				return v, refusef(e.Key(), "a replacement document cannot contain update operators")
			}
		}
		d, err := a.markDocument(root, v.Data, qe)
		if err != nil {
			return v, err
		}
		return docValue(d), nil
	}
	out := newDoc()
	for _, e := range elements(v.Data) {
		op, body := e.Key(), e.Value()
		if !strings.HasPrefix(op, "$") {
			return v, refusef(op, "an update document cannot mix operators and fields")
		}
		if body.Type != bsoncore.TypeEmbeddedDocument {
			return v, refusef(op, "Modifiers operate on fields but we found type %s instead: an update operator needs a document", typeName(body.Type))
		}
		switch op {
		case "$set", "$setOnInsert":
			d, err := a.updateSet(root, body.Data)
			if err != nil {
				return v, err
			}
			out.doc(op, d)
			continue
		case "$unset":
			for _, fe := range elements(body.Data) {
				if _, _, err := resolveUpdatePath(root, fe.Key()); err != nil {
					return v, err
				}
				// The server ignores the value; only the customary ones are
				// sent, so that no other value travels next to the field.
				switch uv := fe.Value(); uv.Type {
				case bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDouble, bsoncore.TypeBoolean:
				case bsoncore.TypeString:
					if uv.StringValue() != "" {
						return v, refusef(fe.Key(), "$unset takes \"\", a number or a boolean as the value of a field")
					}
				default:
					return v, refusef(fe.Key(), "$unset takes \"\", a number or a boolean as the value of a field")
				}
			}
		case "$rename":
			if err := checkRename(root, body.Data); err != nil {
				return v, err
			}
		default:
			msg, known := refusedUpdateOps[op]
			if !known {
				return v, refusef(op, "Unknown update operator: query analysis refuses operators it does not know")
			}
			for _, fe := range elements(body.Data) {
				kind, _, err := resolveUpdatePath(root, fe.Key())
				if err != nil {
					return v, err
				}
				if kind != pathPlain {
					return v, refusef(fe.Key(), "%s", msg)
				}
			}
		}
		out.element(e)
	}
	return docValue(out.build()), nil
}

// resolveUpdatePath classifies an update path, refusing positional and array
// operators ($, $[], $[id]) at or below encrypted data.
func resolveUpdatePath(root *node, path string) (pathKind, *encField, error) {
	cur := root
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if cur == nil {
			return pathPlain, nil, nil
		}
		if strings.HasPrefix(p, "$") {
			if !cur.hasEnc {
				return pathPlain, nil, nil
			}
			if p == "$" {
				return 0, nil, refusef(path, "Cannot encrypt fields below '$' positional update operator")
			}
			return 0, nil, refusef(path, "Array update operations not allowed on encrypted values")
		}
		if cur.enc != nil {
			// A following positional operator gets the more precise message.
			if strings.HasPrefix(p, "$") {
				continue
			}
			return pathBelowCipher, cur.enc, nil
		}
		cur = cur.child(p)
		if cur == nil {
			return pathPlain, nil, nil
		}
		if cur.unknown {
			return pathUnknown, nil, nil
		}
		if i == len(parts)-1 {
			switch {
			case cur.enc != nil:
				return pathEncrypted, cur.enc, nil
			case cur.hasEnc:
				return pathPrefix, nil, nil
			}
		}
	}
	if cur != nil && cur.enc != nil && len(parts) > 0 {
		return pathEncrypted, cur.enc, nil
	}
	return pathPlain, nil, nil
}

func (a *analyzer) updateSet(root *node, doc []byte) ([]byte, error) {
	b := newDoc()
	for _, e := range elements(doc) {
		path, v := e.Key(), e.Value()
		kind, f, err := resolveUpdatePath(root, path)
		if err != nil {
			return nil, err
		}
		switch kind {
		case pathPlain:
			b.element(e)
		case pathBelowCipher:
			return nil, refusef(path, "Cannot $set a path below an encrypted field")
		case pathUnknown:
			return nil, refusef(path, errUnknownEncryption)
		case pathEncrypted:
			nv, err := a.insertValue(f, v, nil, path, false)
			if err != nil {
				return nil, err
			}
			b.value(path, nv)
		case pathPrefix:
			switch v.Type {
			case bsoncore.TypeEmbeddedDocument:
				d, err := a.markLevel(pathNode(root, path), v.Data, nil, path, false, 0)
				if err != nil {
					return nil, err
				}
				b.doc(path, d)
			case bsoncore.TypeArray:
				return nil, refusef(path, "Cannot encrypt fields below an array: the schema has encrypted fields under this path")
			default:
				b.element(e)
			}
		default:
			return nil, refusef(path, errUnknownEncryption)
		}
	}
	return b.build(), nil
}

func checkRename(root *node, doc []byte) error {
	for _, e := range elements(doc) {
		src := e.Key()
		dv := e.Value()
		if dv.Type != bsoncore.TypeString {
			return refusef(src, "The 'to' field for $rename must be a string")
		}
		dst := dv.StringValue()
		sk, sf, err := resolveUpdatePath(root, src)
		if err != nil {
			return err
		}
		dk, df, err := resolveUpdatePath(root, dst)
		if err != nil {
			return err
		}
		if sk == pathPlain && dk == pathPlain {
			continue
		}
		if sk == pathEncrypted && dk == pathEncrypted && sameMetadata(sf, df) {
			continue
		}
		return refusef(src, "$rename between two encrypted fields must have the same metadata or both be unencrypted")
	}
	return nil
}
