package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// A pipeline is analysed stage by stage with the schema of the documents
// that flow into each stage (nil: plain documents; unknownNode: documents
// whose encryption cannot be known). Each stage is one of three kinds:
// analysed (its filters, expressions and paths are checked against the
// schema and its output schema computed), passed (it carries no value that
// the server could compare with document data: $limit, $skip, ...), or
// refused. A stage query analysis does not know is refused.

// pipeline analyses an aggregation pipeline whose documents start with the
// schema cur, with the variables vs in scope. It returns the pipeline to send
// and the schema of its output documents.
func (a *analyzer) pipeline(cur *node, vs vars, v bsoncore.Value, depth int) ([]byte, *node, error) {
	if depth > maxDepth {
		return nil, nil, cmdErr("pipeline nested too deeply")
	}
	if v.Type != bsoncore.TypeArray {
		return nil, nil, cmdErr("'pipeline' must be an array")
	}
	out := newArray()
	for _, se := range elements(v.Data) {
		sv := se.Value()
		sels := elements(sv.Data)
		if sv.Type != bsoncore.TypeEmbeddedDocument || len(sels) != 1 {
			return nil, nil, cmdErr("each pipeline stage must be a document with one field")
		}
		stage, body := sels[0].Key(), sels[0].Value()
		nb, next, err := a.stage(cur, vs, stage, body, depth)
		if err != nil {
			return nil, nil, err
		}
		cur = next
		out.doc(newDoc().value(stage, nb).build())
	}
	return out.build(), cur, nil
}

// passedStages carry no document value: the documents flow through with
// their schema.
var passedStages = setOf("$limit", "$skip", "$sample", "$changeStreamSplitLargeEvent")

// sourceStages start a pipeline with documents the server makes (statistics,
// sessions, operations): they hold no field of the collection.
var sourceStages = setOf("$collStats", "$indexStats", "$planCacheStats", "$currentOp",
	"$listSessions", "$listLocalSessions", "$listCatalog", "$listSampledQueries", "$shardedDataDistribution")

func (a *analyzer) stage(cur *node, vs vars, stage string, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	x := &exprCtx{a: a, cur: cur, vars: vs}
	switch {
	case passedStages[stage]:
		return body, cur, nil
	case sourceStages[stage]:
		return body, nil, nil
	}
	switch stage {
	case "$match":
		if body.Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("$match must be a document")
		}
		m := &matcher{a: a, schema: cur, vars: vs}
		f, err := m.filter(body.Data)
		return docValue(f), cur, err
	case "$project":
		return a.projectStage(x, body, depth)
	case "$addFields", "$set":
		return a.addFieldsStage(x, stage, body, depth)
	case "$unset":
		return body, cur, checkUnset(body)
	case "$replaceRoot", "$replaceWith":
		return a.replaceRootStage(x, stage, body, depth)
	case "$group":
		return a.groupStageOf(x, body, depth)
	case "$bucket", "$bucketAuto":
		return a.bucketStage(x, stage, body, depth)
	case "$sortByCount":
		nb, n, err := x.expr(body, depth+1)
		if err != nil {
			return body, nil, err
		}
		out := withChild((&node{}), "_id", n)
		return nb, out, nil
	case "$count":
		return body, nil, nil
	case "$sort":
		if body.Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("the $sort key specification must be an object")
		}
		return body, cur, checkSort(cur, body)
	case "$unwind":
		return a.unwindStage(cur, body)
	case "$lookup":
		return a.lookupStage(x, body, depth)
	case "$graphLookup":
		return a.graphLookupStage(x, body, depth)
	case "$unionWith":
		return a.unionWithStage(x, body, depth)
	case "$facet":
		return a.facetStage(x, body, depth)
	case "$out", "$merge":
		return a.outStage(cur, stage, body)
	case "$redact":
		nb, _, err := x.expr(body, depth+1)
		return nb, cur, err
	case "$setWindowFields":
		return a.windowStage(x, body, depth)
	case "$documents":
		return body, nil, (&exprCtx{a: a, vars: vs}).plainExpr(body, depth, "$documents")
	case "$densify", "$fill":
		return a.fillStage(x, stage, body, depth)
	case "$changeStream":
		// Change events hold the documents (fullDocument, updateDescription)
		// under other names.
		if hasEncOf(cur) {
			return body, unknownNode, nil
		}
		return body, nil, nil
	case "$geoNear", "$search", "$searchMeta", "$vectorSearch", "$listSearchIndexes", "$rankFusion", "$scoreFusion":
		if hasEncOf(cur) {
			return body, nil, cmdErr("Aggregation stage %s is not supported by query analysis on a collection with encrypted fields", stage)
		}
		if stage == "$geoNear" {
			return a.geoNearStage(x, body)
		}
		return body, cur, nil
	}
	return body, nil, &Error{Reason: "Aggregation stage " + stage + " is not supported by query analysis for encryption"}
}

// checkUnset checks the body of $unset: field names only.
func checkUnset(body bsoncore.Value) error {
	switch body.Type {
	case bsoncore.TypeString:
		return nil
	case bsoncore.TypeArray:
		for _, e := range elements(body.Data) {
			if e.Value().Type != bsoncore.TypeString {
				return cmdErr("$unset specification must be a string or an array of strings")
			}
		}
		return nil
	}
	return cmdErr("$unset specification must be a string or an array of strings")
}

// isInclusion reports whether a projection value includes or excludes a field.
func isInclusion(v bsoncore.Value) bool {
	switch v.Type {
	case bsoncore.TypeInt32, bsoncore.TypeInt64, bsoncore.TypeDouble, bsoncore.TypeBoolean, bsoncore.TypeDecimal128:
		return true
	}
	return false
}

// projectStage analyses $project: computed fields are expressions; the
// output keeps the schema of the input (excluded fields included, which only
// makes later stages stricter) with every computed field's schema.
func (a *analyzer) projectStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("$project specification must be an object")
	}
	out, err := a.projection(x, x.cur, body.Data, "", depth, false)
	return body, out, err
}

// projection analyses a projection document (of $project, find's projection
// or findAndModify's fields). findForm allows the find projection operators
// ($elemMatch, $slice, positional "a.$") on plain paths.
func (a *analyzer) projection(x *exprCtx, out *node, doc []byte, prefix string, depth int, findForm bool) (*node, error) {
	if depth > maxDepth {
		return nil, cmdErr("projection nested too deeply")
	}
	for _, e := range elements(doc) {
		k, v := e.Key(), e.Value()
		path := join(prefix, k)
		if isInclusion(v) {
			continue
		}
		if v.Type == bsoncore.TypeEmbeddedDocument && !isOperatorDoc(v) && len(elements(v.Data)) > 0 {
			var err error
			if out, err = a.projection(x, out, v.Data, path, depth+1, findForm); err != nil {
				return nil, err
			}
			continue
		}
		if findForm && v.Type == bsoncore.TypeEmbeddedDocument {
			if els := elements(v.Data); len(els) == 1 {
				switch els[0].Key() {
				case "$elemMatch", "$slice":
					if kind, _ := x.cur.resolve(path); kind != pathPlain {
						return nil, refusef(path, errInvalidOperator+" (%s in a projection)", els[0].Key())
					}
					continue
				}
			}
		}
		_, n, err := x.expr(v, depth+1)
		if err != nil {
			return nil, err
		}
		if kind, _ := out.resolve(path); kind != pathPlain {
			return nil, refusef(path, "A projection cannot compute a new value for an encrypted field (or a field containing or below one)")
		}
		out = withChild(out, path, n)
	}
	return out, nil
}

// addFieldsStage analyses $addFields and $set: a field that is or may be
// encrypted can only receive a copy of other data, never a value.
func (a *analyzer) addFieldsStage(x *exprCtx, stage string, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("%s specification stage must be an object", stage)
	}
	out := x.cur
	b := newDoc()
	for _, e := range elements(body.Data) {
		k, v := e.Key(), e.Value()
		nv, n, err := x.expr(v, depth+1)
		if err != nil {
			return body, nil, err
		}
		if kind, _ := out.resolve(k); kind != pathPlain {
			return body, nil, refusef(k, "%s cannot overwrite an encrypted field (or a field containing or below one)", stage)
		}
		b.value(k, nv)
		out = withChild(out, k, n)
	}
	return docValue(b.build()), out, nil
}

func (a *analyzer) replaceRootStage(x *exprCtx, stage string, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	root := body
	if stage == "$replaceRoot" {
		args, err := namedArgs("$replaceRoot", body, "newRoot")
		if err != nil {
			return body, nil, err
		}
		r, ok := args["newRoot"]
		if !ok {
			return body, nil, cmdErr("no newRoot specified for the $replaceRoot stage")
		}
		root = r
	}
	nr, n, err := x.expr(root, depth+1)
	if err != nil {
		return body, nil, err
	}
	if n != nil && n.enc != nil {
		n = unknownNode
	}
	if stage == "$replaceRoot" {
		return docValue(newDoc().value("newRoot", nr).build()), n, nil
	}
	return nr, n, nil
}

// groupAccumulators copy their argument into the output ($first, $last) or
// collect it ($push, $addToSet, $mergeObjects): the output holds what the
// argument holds.
var copyAccumulators = setOf("$first", "$last")
var collectAccumulators = setOf("$push", "$addToSet", "$mergeObjects")

// valueAccumulators compute a value from their argument, which may not be
// encrypted.
var valueAccumulators = setOf("$sum", "$avg", "$min", "$max", "$stdDevPop", "$stdDevSamp",
	"$median", "$percentile", "$accumulator", "$maxN", "$minN", "$count",
	// window functions
	"$covariancePop", "$covarianceSamp", "$denseRank", "$derivative", "$documentNumber",
	"$expMovingAvg", "$integral", "$linearFill", "$locf", "$rank", "$shift")

// sortedAccumulators take {output | input, sortBy, n}.
var sortedAccumulators = setOf("$top", "$bottom", "$topN", "$bottomN", "$firstN", "$lastN")

// accumulator analyses one accumulator {op: arg} and returns the schema of
// its output.
func (a *analyzer) accumulator(x *exprCtx, field string, v bsoncore.Value, depth int, window bool) (*node, error) {
	els := elements(v.Data)
	if v.Type != bsoncore.TypeEmbeddedDocument || len(els) == 0 {
		return nil, refusef(field, "an accumulator must be an object with the accumulator's name")
	}
	if window {
		// {op: arg, window: {...}}: the window bounds are numbers or keywords.
		var rest []bsoncore.Element
		for _, e := range els {
			if e.Key() != "window" {
				rest = append(rest, e)
			}
		}
		els = rest
	}
	if len(els) != 1 {
		return nil, refusef(field, "an accumulator must name exactly one operator")
	}
	op, arg := els[0].Key(), els[0].Value()
	switch {
	case copyAccumulators[op]:
		_, n, err := x.expr(arg, depth+1)
		return n, err
	case collectAccumulators[op]:
		_, n, err := x.expr(arg, depth+1)
		if err != nil {
			return nil, err
		}
		if hasEncOf(n) {
			if op == "$mergeObjects" && !isReference(arg) {
				return nil, refuseEncryptedArg("$mergeObjects of data with encrypted fields and a value")
			}
			return unknownNode, nil
		}
		return nil, nil
	case sortedAccumulators[op]:
		args, err := namedArgs(op, arg, "output", "input", "sortBy", "n")
		if err != nil {
			return nil, err
		}
		if s, ok := args["sortBy"]; ok {
			if err := checkSort(x.cur, s); err != nil {
				return nil, err
			}
		}
		if n, ok := args["n"]; ok {
			if err := x.plainExpr(n, depth, op); err != nil {
				return nil, err
			}
		}
		var out *node
		for _, k := range []string{"output", "input"} {
			if o, ok := args[k]; ok {
				_, n, err := x.expr(o, depth+1)
				if err != nil {
					return nil, err
				}
				if hasEncOf(n) {
					if !isReference(o) {
						return nil, refuseEncryptedArg(op)
					}
					out = unknownNode
				}
			}
		}
		return out, nil
	case valueAccumulators[op]:
		_, culprit, anyEnc, err := x.argsCulprit(arg, depth)
		if err != nil {
			return nil, err
		}
		if anyEnc {
			return nil, refuseArg(op, culprit)
		}
		return nil, nil
	}
	return nil, refusef(field, "Unsupported accumulator for encryption: %s", op)
}

func (a *analyzer) groupStageOf(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("a group's fields must be specified in an object")
	}
	out := &node{}
	hasID := false
	for _, e := range elements(body.Data) {
		k, v := e.Key(), e.Value()
		if k == "_id" {
			hasID = true
			_, n, err := x.expr(v, depth+1)
			if err != nil {
				return body, nil, err
			}
			out = withChild(out, "_id", n)
			continue
		}
		n, err := a.accumulator(x, k, v, depth, false)
		if err != nil {
			return body, nil, err
		}
		out = withChild(out, k, n)
	}
	if !hasID {
		return body, nil, cmdErr("a group specification must include an _id")
	}
	nb, err := groupStage(body)
	return nb, orNil(out), err
}

// orNil returns nil for a node without encrypted data.
func orNil(n *node) *node {
	if !hasEncOf(n) {
		return nil
	}
	return n
}

func (a *analyzer) bucketStage(x *exprCtx, stage string, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	names := []string{"groupBy", "boundaries", "default", "output"}
	if stage == "$bucketAuto" {
		names = []string{"groupBy", "buckets", "output", "granularity"}
	}
	args, err := namedArgs(stage, body, names...)
	if err != nil {
		return body, nil, err
	}
	// The groupBy value is compared with the boundaries.
	if g, ok := args["groupBy"]; ok {
		if err := x.plainExpr(g, depth, stage+" groupBy"); err != nil {
			return body, nil, err
		}
	}
	out := &node{}
	if o, ok := args["output"]; ok {
		if o.Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("%s output must be an object", stage)
		}
		for _, e := range elements(o.Data) {
			n, err := a.accumulator(x, e.Key(), e.Value(), depth, false)
			if err != nil {
				return body, nil, err
			}
			out = withChild(out, e.Key(), n)
		}
	}
	return body, orNil(out), nil
}

func (a *analyzer) unwindStage(cur *node, body bsoncore.Value) (bsoncore.Value, *node, error) {
	path := ""
	switch body.Type {
	case bsoncore.TypeString:
		path = body.StringValue()
	case bsoncore.TypeEmbeddedDocument:
		args, err := namedArgs("$unwind", body, "path", "includeArrayIndex", "preserveNullAndEmptyArrays")
		if err != nil {
			return body, nil, err
		}
		if p, ok := args["path"]; ok && p.Type == bsoncore.TypeString {
			path = p.StringValue()
		}
		if i, ok := args["includeArrayIndex"]; ok && i.Type == bsoncore.TypeString {
			if kind, _ := cur.resolve(i.StringValue()); kind != pathPlain {
				return body, nil, refusef(i.StringValue(), "$unwind includeArrayIndex cannot overwrite an encrypted field")
			}
		}
	}
	if !strings.HasPrefix(path, "$") || strings.HasPrefix(path, "$$") {
		return body, nil, cmdErr("$unwind path must be a field path starting with '$'")
	}
	if kind, _ := cur.resolve(path[1:]); kind != pathPlain {
		return body, nil, refusef(path[1:], "$unwind on an encrypted field (or a field containing or below one) is not supported")
	}
	return body, cur, nil
}

// foreignNS reads the collection a stage reads or writes: a name in the
// command's database or {db, coll}.
func (a *analyzer) foreignNS(stage string, v bsoncore.Value) (string, error) {
	switch v.Type {
	case bsoncore.TypeString:
		return a.db + "." + v.StringValue(), nil
	case bsoncore.TypeEmbeddedDocument:
		db, ok1 := lookup(v.Data, "db")
		coll, ok2 := lookup(v.Data, "coll")
		if ok1 && ok2 && db.Type == bsoncore.TypeString && coll.Type == bsoncore.TypeString {
			return db.StringValue() + "." + coll.StringValue(), nil
		}
	}
	return "", cmdErr("%s must name a collection (a string or {db, coll})", stage)
}

// foreignSchema reads the collection a stage reads or writes (see foreignNS)
// and returns it with its parsed schema. A namespace that Namespaces did not
// report has no schema at hand: it is refused rather than taken as plain.
func (a *analyzer) foreignSchema(stage string, v bsoncore.Value) (string, *nsSchema, error) {
	ns, err := a.foreignNS(stage, v)
	if err != nil {
		return "", nil, err
	}
	s, ok := a.schemas[ns]
	if !ok {
		return "", nil, cmdErr("the collection %s was not resolved for query analysis", ns)
	}
	return ns, s, nil
}

// lookupStage analyses $lookup and returns the schema of the documents after
// it: the joined documents (or the sub-pipeline's output) appear under `as`.
func (a *analyzer) lookupStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	args, err := namedArgs("$lookup", body, "from", "as", "localField", "foreignField", "let", "pipeline")
	if err != nil {
		return body, nil, err
	}
	cur := x.cur
	var froot *node
	if f, ok := args["from"]; ok {
		_, fs, err := a.foreignSchema("$lookup from", f)
		if err != nil {
			return body, nil, err
		}
		froot = rootOf(fs)
	} else if _, ok := args["pipeline"]; !ok {
		return body, nil, cmdErr("$lookup requires 'from' or 'pipeline'")
	}
	as, ok := args["as"]
	if !ok || as.Type != bsoncore.TypeString {
		return body, nil, cmdErr("$lookup requires an 'as' field name")
	}
	if kind, _ := cur.resolve(as.StringValue()); kind != pathPlain {
		return body, nil, refusef(as.StringValue(), "$lookup cannot write its result over an encrypted field (or a field containing or below one)")
	}
	if lf, ok := args["localField"]; ok {
		if lf.Type != bsoncore.TypeString {
			return body, nil, cmdErr("$lookup localField must be a string")
		}
		if kind, _ := cur.resolve(lf.StringValue()); kind != pathPlain {
			return body, nil, refusef(lf.StringValue(), "$lookup with a localField that is encrypted (or contains or is below an encrypted field) is not supported")
		}
	}
	if ff, ok := args["foreignField"]; ok {
		if ff.Type != bsoncore.TypeString {
			return body, nil, cmdErr("$lookup foreignField must be a string")
		}
		if kind, _ := froot.resolve(ff.StringValue()); kind != pathPlain {
			return body, nil, refusef(ff.StringValue(), "$lookup with a foreignField that is encrypted (or contains or is below an encrypted field) is not supported")
		}
	}
	inner := x.vars
	if lv, ok := args["let"]; ok {
		if lv.Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("$lookup let must be an object")
		}
		for _, e := range elements(lv.Data) {
			_, n, err := x.expr(e.Value(), depth+1)
			if err != nil {
				return body, nil, err
			}
			inner = inner.with(e.Key(), n)
		}
	}
	joined := froot
	var newPipeline []byte
	if p, ok := args["pipeline"]; ok {
		np, out, err := a.pipeline(froot, inner, p, depth+1)
		if err != nil {
			return body, nil, err
		}
		newPipeline, joined = np, out
	}
	// Serialize: QE query analysis writes from, as, localField, foreignField,
	// let, pipeline; CSFLE keeps the order as written.
	b := newDoc()
	put := func(e bsoncore.Element) {
		if e.Key() == "pipeline" && newPipeline != nil {
			b.array("pipeline", newPipeline)
			return
		}
		b.element(e)
	}
	els := elements(body.Data)
	if a.qe {
		for _, k := range []string{"from", "as", "localField", "foreignField", "let", "pipeline"} {
			for _, e := range els {
				if e.Key() == k {
					put(e)
				}
			}
		}
	} else {
		for _, e := range els {
			put(e)
		}
	}
	next := cur
	if hasEncOf(joined) || hasEncOf(cur) {
		next = withChild(cur, as.StringValue(), orNil(joined))
	}
	return docValue(b.build()), next, nil
}

func (a *analyzer) graphLookupStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	args, err := namedArgs("$graphLookup", body, "from", "startWith", "connectFromField", "connectToField",
		"as", "maxDepth", "depthField", "restrictSearchWithMatch")
	if err != nil {
		return body, nil, err
	}
	f, ok := args["from"]
	if !ok {
		return body, nil, cmdErr("$graphLookup requires 'from'")
	}
	_, fs, err := a.foreignSchema("$graphLookup from", f)
	if err != nil {
		return body, nil, err
	}
	froot := rootOf(fs)
	for _, k := range []string{"connectFromField", "connectToField", "depthField"} {
		v, ok := args[k]
		if !ok {
			continue
		}
		if v.Type != bsoncore.TypeString {
			return body, nil, cmdErr("$graphLookup %s must be a string", k)
		}
		if kind, _ := froot.resolve(v.StringValue()); kind != pathPlain {
			return body, nil, refusef(v.StringValue(), "$graphLookup on an encrypted field (or a field containing or below one) is not supported")
		}
	}
	if sw, ok := args["startWith"]; ok {
		if err := x.plainExpr(sw, depth, "$graphLookup startWith"); err != nil {
			return body, nil, err
		}
	}
	as, ok := args["as"]
	if !ok || as.Type != bsoncore.TypeString {
		return body, nil, cmdErr("$graphLookup requires an 'as' field name")
	}
	if kind, _ := x.cur.resolve(as.StringValue()); kind != pathPlain {
		return body, nil, refusef(as.StringValue(), "$graphLookup cannot write its result over an encrypted field (or a field containing or below one)")
	}
	b := newDoc()
	for _, e := range elements(body.Data) {
		if e.Key() != "restrictSearchWithMatch" {
			b.element(e)
			continue
		}
		if e.Value().Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("$graphLookup restrictSearchWithMatch must be an object")
		}
		m := &matcher{a: a, schema: froot, vars: x.vars}
		f, err := m.filter(e.Value().Data)
		if err != nil {
			return body, nil, err
		}
		b.doc(e.Key(), f)
	}
	next := x.cur
	if hasEncOf(froot) || hasEncOf(x.cur) {
		next = withChild(x.cur, as.StringValue(), orNil(froot))
	}
	return docValue(b.build()), next, nil
}

func (a *analyzer) unionWithStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	collV := body
	var pipelineV bsoncore.Value
	hasPipeline := false
	if body.Type == bsoncore.TypeEmbeddedDocument {
		args, err := namedArgs("$unionWith", body, "coll", "pipeline")
		if err != nil {
			return body, nil, err
		}
		collV = args["coll"]
		pipelineV, hasPipeline = args["pipeline"]
	}
	var froot *node
	if collV.Type != 0 {
		_, fs, err := a.foreignSchema("$unionWith coll", collV)
		if err != nil {
			return body, nil, err
		}
		froot = rootOf(fs)
	}
	other := froot
	nb := body
	if hasPipeline {
		np, out, err := a.pipeline(froot, x.vars, pipelineV, depth+1)
		if err != nil {
			return body, nil, err
		}
		other = out
		b := newDoc()
		for _, e := range elements(body.Data) {
			if e.Key() == "pipeline" {
				b.array("pipeline", np)
			} else {
				b.element(e)
			}
		}
		nb = docValue(b.build())
	}
	switch {
	case !hasEncOf(x.cur) && !hasEncOf(other):
		return nb, nil, nil
	case agree(x.cur, other):
		return nb, x.cur, nil
	}
	// Documents of two schemas flow on together.
	return nb, unknownNode, nil
}

func (a *analyzer) facetStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("$facet requires an object")
	}
	b := newDoc()
	out := &node{}
	for _, e := range elements(body.Data) {
		np, sub, err := a.pipeline(x.cur, x.vars, e.Value(), depth+1)
		if err != nil {
			return body, nil, err
		}
		b.array(e.Key(), np)
		if hasEncOf(sub) {
			out = withChild(out, e.Key(), unknownNode)
		}
	}
	return docValue(b.build()), orNil(out), nil
}

// outStage analyses $out and $merge: writing into a collection with
// encrypted fields is refused (the documents would be stored as the pipeline
// made them), as is a $merge that runs a pipeline or binds variables on data
// with encrypted fields.
func (a *analyzer) outStage(cur *node, stage string, body bsoncore.Value) (bsoncore.Value, *node, error) {
	target := body
	if stage == "$merge" && body.Type == bsoncore.TypeEmbeddedDocument {
		args, err := namedArgs("$merge", body, "into", "on", "let", "whenMatched", "whenNotMatched")
		if err != nil {
			return body, nil, err
		}
		target = args["into"]
		wm, hasWM := args["whenMatched"]
		_, hasLet := args["let"]
		if (hasLet || (hasWM && wm.Type != bsoncore.TypeString)) && hasEncOf(cur) {
			return body, nil, cmdErr("$merge with a pipeline or variables is not supported by query analysis on documents with encrypted fields")
		}
		if hasWM && wm.Type == bsoncore.TypeArray {
			if _, _, err := a.pipeline(nil, vars{"new": cur}, wm, 1); err != nil {
				return body, nil, err
			}
		}
	}
	if stage == "$out" && body.Type == bsoncore.TypeEmbeddedDocument {
		if _, err := namedArgs("$out", body, "db", "coll", "timeseries"); err != nil {
			return body, nil, err
		}
	}
	ns, s, err := a.foreignSchema(stage, target)
	if err != nil {
		return body, nil, err
	}
	if s.requiresEncryption() || s.qe {
		return body, nil, cmdErr("%s into a collection with encrypted fields is not supported: the documents would be stored unencrypted (%s)", stage, ns)
	}
	return body, nil, nil
}

// partitionAndSort analyses the partitionBy expression and the sortBy order
// of $setWindowFields and $fill.
func partitionAndSort(x *exprCtx, args map[string]bsoncore.Value, depth int) error {
	if p, ok := args["partitionBy"]; ok {
		if _, _, err := x.expr(p, depth+1); err != nil {
			return err
		}
	}
	if s, ok := args["sortBy"]; ok {
		return checkSort(x.cur, s)
	}
	return nil
}

func (a *analyzer) windowStage(x *exprCtx, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	args, err := namedArgs("$setWindowFields", body, "partitionBy", "sortBy", "output")
	if err != nil {
		return body, nil, err
	}
	if err := partitionAndSort(x, args, depth); err != nil {
		return body, nil, err
	}
	out := x.cur
	o, ok := args["output"]
	if !ok || o.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("$setWindowFields requires an 'output' object")
	}
	for _, e := range elements(o.Data) {
		if kind, _ := out.resolve(e.Key()); kind != pathPlain {
			return body, nil, refusef(e.Key(), "$setWindowFields cannot overwrite an encrypted field (or a field containing or below one)")
		}
		n, err := a.accumulator(x, e.Key(), e.Value(), depth, true)
		if err != nil {
			return body, nil, err
		}
		out = withChild(out, e.Key(), n)
	}
	return body, out, nil
}

// fillStage analyses $densify and $fill: the fields they fill and partition
// by must be plain; the values they write are expressions.
func (a *analyzer) fillStage(x *exprCtx, stage string, body bsoncore.Value, depth int) (bsoncore.Value, *node, error) {
	names := []string{"field", "partitionByFields", "range"}
	if stage == "$fill" {
		names = []string{"partitionBy", "partitionByFields", "sortBy", "output"}
	}
	args, err := namedArgs(stage, body, names...)
	if err != nil {
		return body, nil, err
	}
	plain := func(path string) error {
		if kind, _ := x.cur.resolve(path); kind != pathPlain {
			return refusef(path, "%s on an encrypted field (or a field containing or below one) is not supported", stage)
		}
		return nil
	}
	if f, ok := args["field"]; ok {
		if f.Type != bsoncore.TypeString {
			return body, nil, cmdErr("%s field must be a string", stage)
		}
		if err := plain(f.StringValue()); err != nil {
			return body, nil, err
		}
	}
	if p, ok := args["partitionByFields"]; ok {
		if p.Type != bsoncore.TypeArray {
			return body, nil, cmdErr("%s partitionByFields must be an array of strings", stage)
		}
		for _, e := range elements(p.Data) {
			if e.Value().Type != bsoncore.TypeString {
				return body, nil, cmdErr("%s partitionByFields must be an array of strings", stage)
			}
			if err := plain(e.Value().StringValue()); err != nil {
				return body, nil, err
			}
		}
	}
	if err := partitionAndSort(x, args, depth); err != nil {
		return body, nil, err
	}
	if o, ok := args["output"]; ok {
		if o.Type != bsoncore.TypeEmbeddedDocument {
			return body, nil, cmdErr("$fill output must be an object")
		}
		for _, e := range elements(o.Data) {
			if err := plain(e.Key()); err != nil {
				return body, nil, err
			}
			spec := e.Value()
			if spec.Type != bsoncore.TypeEmbeddedDocument {
				return body, nil, cmdErr("$fill output specifications must be objects")
			}
			if v, ok := lookup(spec.Data, "value"); ok {
				if err := x.plainExpr(v, depth, "$fill value"); err != nil {
					return body, nil, err
				}
			}
		}
	}
	return body, x.cur, nil
}

// geoNearStage analyses $geoNear on documents without encrypted fields: its
// query is a filter.
func (a *analyzer) geoNearStage(x *exprCtx, body bsoncore.Value) (bsoncore.Value, *node, error) {
	if body.Type != bsoncore.TypeEmbeddedDocument {
		return body, nil, cmdErr("$geoNear requires an object")
	}
	b := newDoc()
	for _, e := range elements(body.Data) {
		if e.Key() == "query" && e.Value().Type == bsoncore.TypeEmbeddedDocument {
			m := &matcher{a: a, schema: x.cur, vars: x.vars}
			f, err := m.filter(e.Value().Data)
			if err != nil {
				return body, nil, err
			}
			b.doc("query", f)
			continue
		}
		b.element(e)
	}
	return docValue(b.build()), x.cur, nil
}

// withChild returns a copy of n where the dotted path as holds sub.
// An unknown n stays unknown.
func withChild(n *node, as string, sub *node) *node {
	if n != nil && n.unknown {
		return n
	}
	parts := strings.SplitN(as, ".", 2)
	c := &node{props: map[string]*node{}}
	if n != nil {
		for k, v := range n.props {
			c.props[k] = v
		}
		c.patterns, c.additional = n.patterns, n.additional
	}
	if len(parts) == 2 {
		var existing *node
		if n != nil {
			existing = n.child(parts[0])
		}
		c.props[parts[0]] = withChild(existing, parts[1], sub)
	} else if sub != nil {
		c.props[parts[0]] = sub
	} else {
		c.props[parts[0]] = &node{}
	}
	for _, v := range c.props {
		c.hasEnc = c.hasEnc || v.hasEnc
	}
	for _, p := range c.patterns {
		c.hasEnc = c.hasEnc || p.node.hasEnc
	}
	if c.additional != nil {
		c.hasEnc = c.hasEnc || c.additional.hasEnc
	}
	return c
}
