package qerewrite

import (
	"context"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
)

// Update rewrites an update document (operators or a replacement) as
// processUpdate and processFindAndModify of src/mongo/db/fle_crud.cpp do.
//
// Operators: each payload 11 of $set or $setOnInsert becomes its stored
// value and its tags are added with {$push: {__safeContent__: {$each: [tags]}}}
// (EDCServerCollection::finalizeForUpdate), merged into a $push the update
// has. An operator on __safeContent__ is refused (6371512 for $push, 6666200
// otherwise), a payload under another operator is refused, and so is a write
// the implicit validator would refuse (121: plaintext into an encrypted
// field, an array on its path, $inc and the like on an encrypted field).
//
// A replacement is checked and transformed as an insert and gets a
// __safeContent__ of its new tags.
//
// The tags of the values the update removes are pulled afterwards: see
// [Schema.RemovedTags]. A pipeline update (an array as a document, keys "0",
// "1", ...) is refused (6371517) whatever it holds, as the server does; use
// [Schema.UpdateValue] when the BSON type of the update is known.
func (s *Schema) Update(ctx context.Context, update bson.Raw, c Crypto) (out bson.Raw, err error) {
	d := bsoncore.Document(update)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "update is not valid BSON")
	}
	if looksLikePipeline(d) {
		return nil, errPipelineUpdate()
	}
	return s.update(ctx, d, c)
}

// UpdateValue is Update for the value of an update command's "u" (or
// findAndModify's "update"): a document, or an array for a pipeline update.
func (s *Schema) UpdateValue(ctx context.Context, update bson.RawValue, c Crypto) (bson.Raw, error) {
	switch update.Type {
	case bson.TypeArray:
		return nil, errPipelineUpdate()
	case bson.TypeEmbeddedDocument:
		d := bsoncore.Document(update.Value)
		if err := d.Validate(); err != nil {
			return nil, newError(CodeFailedToParse, "update is not valid BSON")
		}
		return s.update(ctx, d, c)
	}
	return nil, newError(CodeFailedToParse, "Update argument must be either an object or an array")
}

func errPipelineUpdate() *Error {
	return newError(6371517, "FLE only supports modifier and replacement style updates")
}

// looksLikePipeline reports whether d is an array of stages: keys "0", "1",
// ... and documents as values.
func looksLikePipeline(d bsoncore.Document) bool {
	elems, err := d.Elements()
	if err != nil || len(elems) == 0 {
		return false
	}
	for i, e := range elems {
		if e.Key() != strconv.Itoa(i) || e.Value().Type != bsoncore.TypeEmbeddedDocument {
			return false
		}
	}
	return true
}

func (s *Schema) update(ctx context.Context, d bsoncore.Document, c Crypto) (bson.Raw, error) {
	elems, _ := d.Elements()
	if len(elems) == 0 || !strings.HasPrefix(elems[0].Key(), "$") {
		return s.replacement(ctx, d, c)
	}
	// Check everything before calling Crypto, so that a refused update writes no ESC entry.
	for _, e := range elems {
		op := e.Key()
		if !strings.HasPrefix(op, "$") {
			return nil, newError(CodeFailedToParse, "Unknown modifier: %s. Expected a valid update modifier or pipeline-style update specified as an array", op)
		}
		args, ok := e.Value().DocumentOK()
		if !ok {
			return nil, newError(CodeFailedToParse, "Modifiers operate on fields but we found type %s instead.", typeName(e.Value().Type))
		}
		if err := s.checkOperator(op, args); err != nil {
			return nil, err
		}
	}
	var tags [][]byte
	ops := make([]bsoncore.Document, len(elems)) // the arguments of each operator, rewritten
	for i, e := range elems {
		ops[i] = e.Value().Document()
		if op := e.Key(); op == "$set" || op == "$setOnInsert" {
			nd, err := s.transform(ctx, ops[i], "", c, &tags)
			if err != nil {
				return nil, err
			}
			ops[i] = nd
		}
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	pushed := len(tags) == 0
	for i, e := range elems {
		args := ops[i]
		if e.Key() == "$push" && !pushed {
			// Add the tags to the update's own $push.
			pi, p := bsoncore.AppendDocumentElementStart(out, "$push")
			p = append(p, args[4:len(args)-1]...)
			p = bsoncore.AppendDocumentElement(p, SafeContent, eachDoc(tags))
			out, _ = bsoncore.AppendDocumentEnd(p, pi)
			pushed = true
			continue
		}
		out = bsoncore.AppendDocumentElement(out, e.Key(), args)
	}
	if !pushed {
		out = bsoncore.AppendDocumentElement(out, "$push", elementDoc(SafeContent, docValue(eachDoc(tags))))
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return bson.Raw(out), nil
}

// eachDoc is {$each: [tags as BinData 0]}.
func eachDoc(tags [][]byte) bsoncore.Document {
	idx, out := bsoncore.AppendDocumentStart(nil)
	aidx, out := bsoncore.AppendArrayElementStart(out, "$each")
	for i, t := range tags {
		out = bsoncore.AppendBinaryElement(out, strconv.Itoa(i), 0, t)
	}
	out, _ = bsoncore.AppendArrayEnd(out, aidx)
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// checkOperator checks one update operator and its arguments.
func (s *Schema) checkOperator(op string, args bsoncore.Document) error {
	elems, err := args.Elements()
	if err != nil {
		return newError(CodeFailedToParse, "update is not valid BSON")
	}
	for _, e := range elems {
		path := e.Key()
		targets := []string{path}
		if op == "$rename" {
			if to, ok := e.Value().StringValueOK(); ok {
				targets = append(targets, to)
			}
		}
		for _, t := range targets {
			if t == SafeContent || strings.HasPrefix(t, SafeContent+".") {
				if op == "$push" {
					return newError(6371512, "Cannot $push to %s", SafeContent)
				}
				return newError(6666200, "Cannot modify %s field in document.", SafeContent)
			}
		}
		switch op {
		case "$set", "$setOnInsert":
			if f := s.underField(path); f != nil && f.Path != path {
				return errValidation()
			}
			if err := s.validateValue(path, e.Value()); err != nil {
				return err
			}
		case "$unset":
			if f := s.underField(path); f != nil && f.Path != path {
				return errValidation()
			}
		case "$rename":
			to, _ := e.Value().StringValueOK()
			if s.underField(to) != nil || s.prefixOfField(to) || s.prefixOfField(path) ||
				(s.underField(path) != nil && s.underField(path).Path != path) {
				return errValidation()
			}
		default:
			if s.underField(path) != nil {
				return errValidation()
			}
			if s.prefixOfField(path) && isArrayOp(op) {
				return errValidation()
			}
		}
	}
	switch op {
	case "$set", "$setOnInsert":
		return s.checkWrite(args, "")
	}
	if hasPayload(docValue(args)) {
		return newError(CodeBadValue, "Queryable Encryption payloads are only supported in $set and $setOnInsert, not in %s", op)
	}
	return nil
}

func isArrayOp(op string) bool {
	switch op {
	case "$push", "$addToSet", "$pop", "$pull", "$pullAll":
		return true
	}
	return false
}

// replacement checks and transforms a replacement document as an insert.
func (s *Schema) replacement(ctx context.Context, d bsoncore.Document, c Crypto) (bson.Raw, error) {
	return s.InsertDocument(ctx, bson.Raw(d), c)
}

// RemovedTags returns the tags of the encrypted indexed values (14, 15, 17)
// of before that after no longer holds at the same path: the tags the server
// removes with {$pull: {__safeContent__: {$in: [tags]}}} after an update
// (EDCServerCollection::getRemovedFields and generateUpdateToRemoveTags).
// Each tag is returned once.
func (s *Schema) RemovedTags(before, after bson.Raw, c Crypto) ([][]byte, error) {
	b, err := s.indexedValues(before)
	if err != nil {
		return nil, err
	}
	a, err := s.indexedValues(after)
	if err != nil {
		return nil, err
	}
	left := map[string]int{}
	for _, v := range a {
		left[v.key()]++
	}
	var out [][]byte
	seen := map[string]bool{}
	for _, v := range b {
		if left[v.key()] > 0 {
			left[v.key()]--
			continue
		}
		tags, err := c.StoredTags(v.data)
		if err != nil {
			return nil, asError(err, "stored value of field '"+v.path+"'")
		}
		for _, t := range tags {
			if !seen[string(t)] {
				seen[string(t)] = true
				out = append(out, t)
			}
		}
	}
	return out, nil
}

type indexedValue struct {
	path string
	data []byte
}

func (v indexedValue) key() string { return v.path + "\x00" + string(v.data) }

// indexedValues returns the indexed encrypted values of doc with their paths.
func (s *Schema) indexedValues(doc bson.Raw) ([]indexedValue, error) {
	d := bsoncore.Document(doc)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "document is not valid BSON")
	}
	var out []indexedValue
	err := s.walkBlobs(d, "", func(path string, st fleblob.Subtype, data []byte) error {
		if isIndexedValue(st) {
			out = append(out, indexedValue{path: path, data: data})
		}
		return nil
	})
	return out, err
}

// Validate checks a document about to be stored, or the result of an update,
// with the implicit validator of the encrypted collection: each encrypted
// field absent or an encrypted value of its bsonType, no array on its path
// (121 "Document failed validation").
func (s *Schema) Validate(doc bson.Raw) error {
	d := bsoncore.Document(doc)
	if err := d.Validate(); err != nil {
		return newError(CodeFailedToParse, "document is not valid BSON")
	}
	return s.validateDocument(d, "")
}
