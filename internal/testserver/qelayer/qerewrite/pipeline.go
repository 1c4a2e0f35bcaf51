package qerewrite

import (
	"context"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Pipeline rewrites an aggregation pipeline (an array as a document, keys
// "0", "1", ...) as the server's PipelineRewrite does with its stage map
// (server_rewrite.cpp): the filter of $match, the query of $geoNear, and the
// restrictSearchWithMatch filter and startWith expression of $graphLookup.
// The server rewrites no other stage and no sub-pipeline ($lookup, $facet,
// $unionWith); a payload left there is refused. A pipeline without payloads
// is returned unchanged.
func (s *Schema) Pipeline(ctx context.Context, pipeline bson.Raw, c Crypto) (bson.Raw, error) {
	d := bsoncore.Document(pipeline)
	if err := d.Validate(); err != nil {
		return nil, newError(CodeFailedToParse, "pipeline is not valid BSON")
	}
	if !hasPayload(docValue(d)) {
		return pipeline, nil
	}
	r := &rewriter{s: s, ctx: ctx, c: c}
	vals, _ := bsoncore.Array(d).Values()
	idx, out := bsoncore.AppendArrayStart(nil)
	for i, v := range vals {
		nv, err := r.stage(v)
		if err != nil {
			return nil, err
		}
		out = bsoncore.AppendValueElement(out, strconv.Itoa(i), nv)
	}
	out, _ = bsoncore.AppendArrayEnd(out, idx)
	return bson.Raw(out), nil
}

// stage rewrites one stage of a pipeline.
func (r *rewriter) stage(v bsoncore.Value) (bsoncore.Value, error) {
	if !hasPayload(v) {
		return v, nil
	}
	name, spec, ok := singleOp(v)
	if !ok {
		return v, newError(40323, "A pipeline stage specification object must contain exactly one field.")
	}
	switch name {
	case "$match":
		f, ok := spec.DocumentOK()
		if !ok {
			return v, newError(15959, "the match filter must be an expression in an object")
		}
		nf, err := r.filter(f)
		if err != nil {
			return v, err
		}
		return docValue(elementDoc(name, docValue(nf))), nil
	case "$geoNear", "$graphLookup":
		sd, ok := spec.DocumentOK()
		if !ok {
			return v, errPayloadHere("", "")
		}
		elems, _ := sd.Elements()
		b := bsoncore.NewDocumentBuilder()
		for _, e := range elems {
			ev := e.Value()
			switch {
			case name == "$geoNear" && e.Key() == "query", name == "$graphLookup" && e.Key() == "restrictSearchWithMatch":
				if fd, ok := ev.DocumentOK(); ok && hasPayload(ev) {
					nf, err := r.filter(fd)
					if err != nil {
						return v, err
					}
					ev = docValue(nf)
				}
			case name == "$graphLookup" && e.Key() == "startWith":
				nv, err := r.aggRewrite(ev)
				if err != nil {
					return v, err
				}
				ev = nv
			}
			if hasPayload(ev) {
				return v, errPayloadHere("", "")
			}
			b.AppendValue(e.Key(), ev)
		}
		return docValue(elementDoc(name, docValue(b.Build()))), nil
	}
	return v, newError(CodeBadValue, "Queryable Encryption payloads are not supported in a %s stage", name)
}
