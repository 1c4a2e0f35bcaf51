package analysis

import (
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// A $jsonSchema in a query, a validator or a partial filter is evaluated by
// the server against the stored documents, where the encrypted fields are
// ciphertexts. Where the schema of the collection has (or may have) an
// encrypted field, a $jsonSchema may only describe structure there; any
// keyword that constrains a value (enum, const, pattern, minimum, ...) would
// send the constraint's plaintext to the server, and is refused.

// Keywords allowed where a $jsonSchema meets an encrypted field (or data whose
// encryption is unknown): they carry no value of the field.
var encryptedPositionKeywords = setOf("encrypt", "encryptMetadata", "description", "title", "bsonType", "type")

// Keywords allowed at an object that holds encrypted fields.
var prefixPositionKeywords = setOf("properties", "patternProperties", "additionalProperties",
	"required", "type", "bsonType", "description", "title", "minProperties", "maxProperties",
	"encryptMetadata", "allOf", "anyOf", "oneOf", "not")

// errSchemaConstrainsEncrypted is the refusal of a value keyword on an encrypted field.
const errSchemaConstrainsEncrypted = "A $jsonSchema cannot constrain the value of an encrypted field (or of data that holds or may hold one)"

// checkQuerySchema checks a $jsonSchema against the schema n of the data it
// describes.
func checkQuerySchema(n *node, doc []byte, path string, depth int) error {
	if depth > maxDepth {
		return refusef(path, "$jsonSchema nested too deeply")
	}
	if !hasEncOf(n) {
		return nil
	}
	if n.enc != nil {
		for _, e := range elements(doc) {
			if !encryptedPositionKeywords[e.Key()] {
				return refusef(path, "%s (keyword '%s')", errSchemaConstrainsEncrypted, e.Key())
			}
		}
		return nil
	}
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		if !prefixPositionKeywords[k] {
			if n.unknown && encryptedPositionKeywords[k] {
				continue
			}
			return refusef(path, "%s (keyword '%s')", errSchemaConstrainsEncrypted, k)
		}
		switch k {
		case "properties":
			if v.Type != bsoncore.TypeEmbeddedDocument {
				return refusef(path, "$jsonSchema 'properties' must be an object")
			}
			for _, pe := range elements(v.Data) {
				if pe.Value().Type != bsoncore.TypeEmbeddedDocument {
					return refusef(join(path, pe.Key()), "$jsonSchema property schemas must be objects")
				}
				if err := checkQuerySchema(n.child(pe.Key()), pe.Value().Data, join(path, pe.Key()), depth+1); err != nil {
					return err
				}
			}
		case "patternProperties", "additionalProperties":
			// The names these describe are not known here: their subschemas
			// may meet any encrypted field.
			subs := []bsoncore.Value{v}
			if k == "patternProperties" {
				if v.Type != bsoncore.TypeEmbeddedDocument {
					return refusef(path, "$jsonSchema 'patternProperties' must be an object")
				}
				subs = nil
				for _, pe := range elements(v.Data) {
					subs = append(subs, pe.Value())
				}
			}
			for _, sv := range subs {
				switch sv.Type {
				case bsoncore.TypeBoolean:
				case bsoncore.TypeEmbeddedDocument:
					if err := checkQuerySchema(unknownNode, sv.Data, path, depth+1); err != nil {
						return err
					}
				default:
					return refusef(path, "$jsonSchema '%s' subschemas must be objects", k)
				}
			}
		case "allOf", "anyOf", "oneOf", "not":
			subs := []bsoncore.Value{v}
			if k != "not" {
				if v.Type != bsoncore.TypeArray {
					return refusef(path, "$jsonSchema '%s' must be an array", k)
				}
				subs = nil
				for _, se := range elements(v.Data) {
					subs = append(subs, se.Value())
				}
			}
			for _, sv := range subs {
				if sv.Type != bsoncore.TypeEmbeddedDocument {
					return refusef(path, "$jsonSchema '%s' subschemas must be objects", k)
				}
				if err := checkQuerySchema(n, sv.Data, path, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
