package analysis

import (
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Query analysis fails closed: on a command that touches a namespace with
// encrypted fields, every field of the command, of its statements and of its
// index specifications is one of three classes. An analysed field is read
// against the schema (filters, pipelines, documents, projections, sort
// orders, variables); a passed field carries no value the server could
// compare with or store in a document (options, counts, names, concerns); any
// other field is refused, naming it.

type fieldClass int

const (
	fieldRefused fieldClass = iota
	fieldAnalysed
	fieldPassed
)

// genericFields are the fields any command may carry: sessions,
// transactions, concerns, read preference, API version, time limits and the
// comment. They carry no value of a document.
var genericFields = setOf("$db", "lsid", "txnNumber", "autocommit", "startTransaction",
	"readConcern", "writeConcern", "$readPreference", "$clusterTime", "apiVersion", "apiStrict",
	"apiDeprecationErrors", "maxTimeMS", "comment")

// commandFields lists, for each command query analysis handles, the fields it
// analyses and those it passes. The first field (the command name) is not
// listed.
var commandFields = map[string]struct{ analysed, passed map[string]bool }{
	"find": {
		setOf("filter", "sort", "projection", "min", "max", "let"),
		setOf("skip", "limit", "batchSize", "singleBatch", "returnKey", "showRecordId", "tailable",
			"oplogReplay", "noCursorTimeout", "awaitData", "allowPartialResults", "collation",
			"allowDiskUse", "readOnce", "hint"),
	},
	"aggregate": {
		setOf("pipeline", "let"),
		setOf("cursor", "explain", "allowDiskUse", "bypassDocumentValidation", "collation", "hint"),
	},
	"count": {
		setOf("query"),
		setOf("limit", "skip", "hint", "collation"),
	},
	"distinct": {
		setOf("key", "query"),
		setOf("collation", "hint"),
	},
	"findAndModify": {
		setOf("query", "sort", "update", "fields", "arrayFilters", "let"),
		setOf("remove", "new", "upsert", "bypassDocumentValidation", "collation", "hint"),
	},
	"insert": {
		setOf("documents"),
		setOf("ordered", "bypassDocumentValidation"),
	},
	"update": {
		setOf("updates", "let"),
		setOf("ordered", "bypassDocumentValidation"),
	},
	"delete": {
		setOf("deletes", "let"),
		setOf("ordered"),
	},
	"explain": {
		setOf("explain"),
		setOf("verbosity"),
	},
	"bulkWrite": {
		setOf("ops", "nsInfo", "let"),
		setOf("ordered", "bypassDocumentValidation", "errorsOnly", "cursor"),
	},
	"create": {
		setOf("validator", "viewOn", "pipeline"),
		// encryptedFields is the Queryable Encryption configuration itself
		// (key ids, query types, range bounds of the index): the driver sends
		// it to the server as given.
		setOf("encryptedFields", "validationLevel", "validationAction", "capped", "size", "max", "storageEngine",
			"indexOptionDefaults", "collation", "clusteredIndex", "changeStreamPreAndPostImages",
			"timeseries", "expireAfterSeconds", "idIndex", "autoIndexId", "flags", "temp",
			"recordPreImages"),
	},
	"collMod": {
		setOf("validator", "viewOn", "pipeline"),
		setOf("validationLevel", "validationAction", "index", "expireAfterSeconds",
			"changeStreamPreAndPostImages", "timeseries", "recordPreImages", "cappedSize",
			"cappedMax", "dryRun"),
	},
	"createIndexes": {
		setOf("indexes"),
		setOf("commitQuorum"),
	},
	"compactStructuredEncryptionData": {
		nil,
		setOf("compactionTokens", "encryptionInformation", "anchorPaddingFactor"),
	},
	"cleanupStructuredEncryptionData": {
		nil,
		setOf("cleanupTokens", "encryptionInformation"),
	},
}

// fieldClassOf returns the class of a field of a command.
func fieldClassOf(cmd, field string) fieldClass {
	if genericFields[field] {
		return fieldPassed
	}
	f := commandFields[cmd]
	switch {
	case f.analysed[field]:
		return fieldAnalysed
	case f.passed[field]:
		return fieldPassed
	}
	return fieldRefused
}

// checkCommandFields refuses a command field query analysis does not know.
// The first field is the command's name.
func checkCommandFields(name string, cmd []byte) error {
	first := true
	return checkFieldsBy("the "+name+" command", cmd, func(field string) fieldClass {
		if first {
			first = false
			return fieldPassed
		}
		return fieldClassOf(name, field)
	})
}

// Fields of the statements and specifications inside commands.
var (
	updateStatementFields = map[string]fieldClass{
		"q": fieldAnalysed, "u": fieldAnalysed, "c": fieldAnalysed, "arrayFilters": fieldAnalysed,
		"sort": fieldAnalysed, "hint": fieldPassed, "multi": fieldPassed, "upsert": fieldPassed,
		"upsertSupplied": fieldPassed, "collation": fieldPassed, "sampleId": fieldPassed,
		"$_allowShardKeyUpdatesWithoutFullShardKeyInQuery": fieldPassed,
	}
	deleteStatementFields = map[string]fieldClass{
		"q": fieldAnalysed, "limit": fieldPassed, "hint": fieldPassed, "collation": fieldPassed,
		"sampleId": fieldPassed,
	}
	bulkOpFields = map[string]map[string]fieldClass{
		"insert": {"insert": fieldPassed, "document": fieldAnalysed},
		"update": {"update": fieldPassed, "filter": fieldAnalysed, "updateMods": fieldAnalysed,
			"arrayFilters": fieldAnalysed, "sort": fieldAnalysed, "multi": fieldPassed,
			"hint": fieldPassed, "upsert": fieldPassed, "collation": fieldPassed},
		"delete": {"delete": fieldPassed, "filter": fieldAnalysed, "multi": fieldPassed,
			"hint": fieldPassed, "collation": fieldPassed},
	}
	indexSpecFields = map[string]fieldClass{
		"partialFilterExpression": fieldAnalysed, "key": fieldPassed, "name": fieldPassed,
		"unique": fieldPassed, "sparse": fieldPassed, "expireAfterSeconds": fieldPassed,
		"hidden": fieldPassed, "collation": fieldPassed, "weights": fieldPassed,
		"default_language": fieldPassed, "language_override": fieldPassed,
		"textIndexVersion": fieldPassed, "2dsphereIndexVersion": fieldPassed, "bits": fieldPassed,
		"min": fieldPassed, "max": fieldPassed, "bucketSize": fieldPassed,
		"wildcardProjection": fieldPassed, "storageEngine": fieldPassed, "background": fieldPassed,
		"v": fieldPassed, "ns": fieldPassed, "prepareUnique": fieldPassed,
		"columnstoreProjection": fieldPassed,
	}
)

// checkFields refuses the fields of a sub-document (statement, op, index
// specification) that the table does not list.
func checkFields(what string, doc []byte, table map[string]fieldClass) error {
	return checkFieldsBy(what, doc, func(field string) fieldClass { return table[field] })
}

// checkFieldsBy refuses a field that class says is refused, and a field given
// twice (the server would read one of the two, query analysis the other).
func checkFieldsBy(what string, doc []byte, class func(string) fieldClass) error {
	seen := map[string]bool{}
	for _, e := range elements(doc) {
		if seen[e.Key()] {
			return refusef(e.Key(), "A field of %s is given twice", what)
		}
		seen[e.Key()] = true
		if class(e.Key()) == fieldRefused {
			return refusef(e.Key(), "Unsupported field of %s for encryption: query analysis refuses fields it does not know", what)
		}
	}
	return nil
}

// letVars reads the let (or c) document of a command or statement: its
// values are expressions evaluated without a document, bound as variables.
func (a *analyzer) letVars(doc []byte, key string) (vars, error) {
	v, ok := lookup(doc, key)
	if !ok {
		return nil, nil
	}
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return nil, cmdErr("'%s' must be a document", key)
	}
	x := &exprCtx{a: a}
	out := vars{}
	for _, e := range elements(v.Data) {
		_, n, err := x.expr(e.Value(), 0)
		if err != nil {
			return nil, err
		}
		out[e.Key()] = n
	}
	return out, nil
}

// findProjection analyses the projection of find or the fields of
// findAndModify: inclusions and exclusions, the find projection operators on
// plain fields, and aggregation expressions.
func (a *analyzer) findProjection(root *node, vs vars, key string, v bsoncore.Value) error {
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return cmdErr("'%s' must be a document", key)
	}
	x := &exprCtx{a: a, cur: root, vars: vs}
	for _, e := range elements(v.Data) {
		if strings.HasSuffix(e.Key(), ".$") {
			if kind, _ := root.resolve(strings.TrimSuffix(e.Key(), ".$")); kind != pathPlain {
				return refusef(e.Key(), errInvalidOperator+" (positional projection)")
			}
		}
	}
	_, err := a.projection(x, root, v.Data, "", 0, true)
	return err
}

// checkIndexBounds refuses find's min and max on encrypted fields: they hold
// index key values the server compares with the documents' values.
func checkIndexBounds(root *node, key string, v bsoncore.Value) error {
	if v.Type != bsoncore.TypeEmbeddedDocument {
		return cmdErr("'%s' must be a document", key)
	}
	for _, e := range elements(v.Data) {
		if kind, _ := root.resolve(e.Key()); kind != pathPlain {
			return refusef(e.Key(), "'%s' on an encrypted field (or a field containing or below one) is not supported", key)
		}
	}
	return nil
}

// checkArrayFilters checks the arrayFilters of an update: each filter's
// identifier must be used by the update, whose analysis allows $[identifier]
// only on paths without encrypted data, so that every filter compares plain
// array elements. A filter whose identifier the update does not use is
// refused.
func checkArrayFilters(root *node, u bsoncore.Value, af bsoncore.Value) error {
	if !root.hasEncAnywhere() {
		return nil
	}
	if af.Type != bsoncore.TypeArray {
		return cmdErr("'arrayFilters' must be an array")
	}
	used := map[string]bool{}
	if u.Type == bsoncore.TypeEmbeddedDocument && isOperatorDoc(u) {
		for _, oe := range elements(u.Data) {
			if oe.Value().Type != bsoncore.TypeEmbeddedDocument {
				continue
			}
			for _, fe := range elements(oe.Value().Data) {
				for _, p := range strings.Split(fe.Key(), ".") {
					if strings.HasPrefix(p, "$[") && strings.HasSuffix(p, "]") && len(p) > 3 {
						used[p[2:len(p)-1]] = true
					}
				}
			}
		}
	}
	for _, e := range elements(af.Data) {
		fv := e.Value()
		if fv.Type != bsoncore.TypeEmbeddedDocument {
			return cmdErr("each array filter must be a document")
		}
		for _, fe := range elements(fv.Data) {
			id, _, _ := strings.Cut(fe.Key(), ".")
			if !used[id] {
				ids := make([]string, 0, len(used))
				for k := range used {
					ids = append(ids, k)
				}
				sort.Strings(ids)
				return refusef(fe.Key(), "an array filter must name an identifier the update uses (%s) on a collection with encrypted fields", strings.Join(ids, ", "))
			}
		}
	}
	return nil
}
