package analysis

import (
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Schema is the encryption schema of one namespace ("db.coll"), as found in
// the schemaMap / encryptedFieldsMap or in listCollections
// (options.validator.$jsonSchema / options.encryptedFields).
type Schema struct {
	// JSONSchema is the CSFLE JSON schema, nil when none.
	JSONSchema bson.Raw
	// EncryptedFields is the QE encryptedFields document, nil when none. Fields
	// naming a keyAltName must have been translated to keyId before analysis
	// (libmongocrypt does the same before it calls query analysis).
	EncryptedFields bson.Raw
	// Remote is true when the JSON schema came from the server
	// (listCollections) rather than from the local schemaMap: mongocryptd's
	// isRemoteSchema. A local schema may only use the JSON schema keywords that
	// bear on encryption; a remote one may also use the validation keywords
	// the server enforces (required, minimum, pattern, ...). It does not
	// change the markings.
	Remote bool
}

// Result is the outcome of Analyze.
type Result struct {
	// Command is mongocryptd's `result`: the command without $db, with every
	// value to encrypt replaced by a placeholder and, when a QE collection is
	// involved, with encryptionInformation (top-level, inside explain, or inside
	// nsInfo.0 for bulkWrite). For a bypassed command it is the input unchanged.
	Command bson.Raw
	// HasPlaceholders is mongocryptd's hasEncryptionPlaceholders. When it is
	// false libmongocrypt ignores Command and keeps the original command.
	HasPlaceholders bool
	// SchemaRequiresEncryption is mongocryptd's schemaRequiresEncryption: some
	// namespace of the command has an encrypted field.
	SchemaRequiresEncryption bool
	// Bypass is true for commands that skip auto encryption (hello, getMore, ...).
	Bypass bool
	// UsesQE is true when some namespace of the command has encryptedFields:
	// the final step then follows libmongocrypt's QE finalization (strip the
	// encryptionInformation of Command and append EncryptionInformation unless
	// OmitEncryptionInformation says not to).
	UsesQE bool
	// EncryptionInformation is the {type: 1, schema: {...}} document
	// libmongocrypt appends for QE (and for bulkWrite), nil otherwise.
	EncryptionInformation bson.Raw
}

// analyzer holds the state of one Analyze call.
type analyzer struct {
	db           string
	cmdName      string
	schemas      map[string]*nsSchema
	placeholders bool
	payloadID    int32
	// before is the schema of a create or collMod target before the command.
	before *node
	// requires is set when some namespace of the command has an encrypted
	// field (mongocryptd's schemaRequiresEncryption), qe when some namespace
	// has encryptedFields.
	requires, qe bool
}

func (a *analyzer) nextPayloadID() int32 {
	id := a.payloadID
	a.payloadID++
	return id
}

// schemaOf returns the schema of a collection of the command's database.
func (a *analyzer) schemaOf(coll string) *nsSchema {
	return a.schemas[a.db+"."+coll]
}

func rootOf(s *nsSchema) *node {
	if s == nil {
		return nil
	}
	return s.root
}

// Namespaces returns every "db.coll" whose schema Analyze needs for cmd run
// on database db: the target collection, the collections of $lookup,
// $unionWith and $facet sub-pipelines, the namespace of bulkWrite's nsInfo.
// It returns nothing for commands that bypass auto encryption and an error for
// commands auto encryption does not support.
func Namespaces(db string, cmd bson.Raw) ([]string, error) {
	info, err := inspect(db, cmd)
	if err != nil {
		return nil, err
	}
	return info.namespaces, nil
}

// cmdInfo is what inspect learns from a command.
type cmdInfo struct {
	name       string
	db         string // database of the namespaces (bulkWrite: from nsInfo)
	target     string // target collection
	namespaces []string
	bypass     bool
}

// Commands that skip auto encryption (libmongocrypt's list).
var bypassCommands = map[string]bool{
	"getMore": true, "authenticate": true, "getnonce": true, "logout": true,
	"abortTransaction": true, "commitTransaction": true, "endSessions": true,
	"startSession": true, "drop": true, "dropDatabase": true, "dropIndexes": true,
	"killCursors": true, "listCollections": true, "listDatabases": true,
	"listIndexes": true, "renameCollection": true, "ping": true, "saslStart": true,
	"saslContinue": true, "killAllSessions": true, "killSessions": true,
	"killAllSessionsByPattern": true, "refreshSessions": true, "hello": true,
	"buildInfo": true, "buildinfo": true, "getCmdLineOpts": true, "getLog": true,
	"createSearchIndexes": true, "listSearchIndexes": true, "dropSearchIndex": true,
	"updateSearchIndex": true, "serverStatus": true,
}

// Commands that auto encryption analyzes (libmongocrypt's list).
var eligibleCommands = map[string]bool{
	"aggregate": true, "count": true, "distinct": true, "delete": true, "find": true,
	"findAndModify": true, "insert": true, "update": true, "create": true,
	"createIndexes": true, "explain": true, "compactStructuredEncryptionData": true,
	"cleanupStructuredEncryptionData": true, "collMod": true,
}

// explainable are the commands explain may wrap.
var explainable = map[string]bool{
	"aggregate": true, "count": true, "distinct": true, "delete": true, "find": true,
	"findAndModify": true, "update": true,
}

func inspect(db string, cmd bson.Raw) (*cmdInfo, error) {
	if db == "" {
		return nil, cmdErr("invalid db: empty database name")
	}
	if err := validateCommand(cmd); err != nil {
		return nil, err
	}
	els := elements(cmd)
	if len(els) == 0 {
		return nil, cmdErr("invalid empty BSON command")
	}
	info := &cmdInfo{name: els[0].Key(), db: db}
	name := info.name
	if name == "bulkWrite" {
		return inspectBulkWrite(cmd, info)
	}
	if strings.EqualFold(name, "isMaster") || bypassCommands[name] {
		info.bypass = true
		return info, nil
	}
	if !eligibleCommands[name] {
		return nil, &Error{Command: name, Reason: "command not supported for auto encryption: " + name}
	}
	targetVal := els[0].Value()
	inner := []byte(cmd)
	if name == "explain" {
		if targetVal.Type != bsoncore.TypeEmbeddedDocument {
			return nil, &Error{Command: name, Reason: "explain value is not a document"}
		}
		ie := elements(targetVal.Data)
		if len(ie) == 0 {
			return nil, &Error{Command: name, Reason: "invalid empty BSON in explain"}
		}
		if !explainable[ie[0].Key()] {
			return nil, &Error{Command: name, Reason: "explain of command not supported for auto encryption: " + ie[0].Key()}
		}
		inner = targetVal.Data
		targetVal = ie[0].Value()
	}
	if targetVal.Type != bsoncore.TypeString {
		return nil, &Error{Command: name, Reason: "non-collection command not supported for auto encryption: " + name}
	}
	info.target = targetVal.StringValue()
	if info.target == "" {
		return nil, &Error{Command: name, Reason: "empty collection name on command: " + name}
	}
	info.namespaces = []string{db + "." + info.target}
	if name == "create" || name == "collMod" {
		// A view reads its source collection through its pipeline.
		if v, ok := lookup(inner, "viewOn"); ok {
			info.addTarget(v)
		}
		if p, ok := lookup(inner, "pipeline"); ok && p.Type == bsoncore.TypeArray {
			if err := collectPipeline(p, info, name+".pipeline", 0); err != nil {
				return nil, withCommand(err, name)
			}
		}
	}
	if elements(inner)[0].Key() == "aggregate" {
		if p, ok := lookup(inner, "pipeline"); ok {
			if err := collectPipeline(p, info, "aggregate.pipeline", 0); err != nil {
				return nil, withCommand(err, name)
			}
		}
	}
	return info, nil
}

func (info *cmdInfo) add(coll string) { info.addNS(info.db + "." + coll) }

func (info *cmdInfo) addNS(ns string) {
	for _, x := range info.namespaces {
		if x == ns {
			return
		}
	}
	info.namespaces = append(info.namespaces, ns)
}

// addTarget adds the collection a stage reads or writes: a name in the
// command's database or {db, coll}. A malformed one is left to the analysis,
// which refuses it.
func (info *cmdInfo) addTarget(v bsoncore.Value) {
	switch v.Type {
	case bsoncore.TypeString:
		info.add(v.StringValue())
	case bsoncore.TypeEmbeddedDocument:
		db, ok1 := lookup(v.Data, "db")
		coll, ok2 := lookup(v.Data, "coll")
		if ok1 && ok2 && db.Type == bsoncore.TypeString && coll.Type == bsoncore.TypeString {
			info.addNS(db.StringValue() + "." + coll.StringValue())
		}
	}
}

// collectPipeline finds the collections a pipeline reads or writes, at any
// depth: $lookup, $graphLookup, $unionWith, $out and $merge, in $facet and in
// the sub-pipelines of $lookup and $unionWith.
func collectPipeline(p bsoncore.Value, info *cmdInfo, path string, depth int) error {
	if depth > maxDepth {
		return cmdErr("pipeline nested too deeply")
	}
	if p.Type != bsoncore.TypeArray {
		return cmdErr("failed to recurse pipeline at path: %s", path)
	}
	for _, se := range elements(p.Data) {
		sv := se.Value()
		sels := elements(sv.Data)
		if sv.Type != bsoncore.TypeEmbeddedDocument || len(sels) == 0 {
			return cmdErr("failed to recurse stage at path: %s.%s", path, se.Key())
		}
		stage, body := sels[0].Key(), sels[0].Value()
		switch stage {
		case "$lookup", "$unionWith", "$graphLookup", "$merge", "$out":
			if body.Type != bsoncore.TypeEmbeddedDocument || stage == "$out" {
				info.addTarget(body)
				continue
			}
			collKey := map[string]string{"$lookup": "from", "$graphLookup": "from", "$unionWith": "coll", "$merge": "into"}[stage]
			for _, le := range elements(body.Data) {
				switch le.Key() {
				case collKey:
					if stage == "$lookup" && le.Value().Type != bsoncore.TypeString && le.Value().Type != bsoncore.TypeEmbeddedDocument {
						return cmdErr("expected string, but got '%s' for '%s' field at path: %s.%s", typeName(le.Value().Type), collKey, path, se.Key())
					}
					info.addTarget(le.Value())
				case "pipeline", "whenMatched":
					if le.Value().Type != bsoncore.TypeArray {
						continue
					}
					if err := collectPipeline(le.Value(), info, path+"."+se.Key()+"."+stage+"."+le.Key(), depth+1); err != nil {
						return err
					}
				}
			}
		case "$facet":
			if body.Type != bsoncore.TypeEmbeddedDocument {
				return cmdErr("failed to recurse $facet at path: %s.%s", path, se.Key())
			}
			for _, fe := range elements(body.Data) {
				if err := collectPipeline(fe.Value(), info, path+"."+se.Key()+".$facet."+fe.Key(), depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func inspectBulkWrite(cmd bson.Raw, info *cmdInfo) (*cmdInfo, error) {
	nsInfo, ok := lookup(cmd, "nsInfo")
	if !ok || nsInfo.Type != bsoncore.TypeArray || len(elements(nsInfo.Data)) == 0 {
		return nil, &Error{Command: info.name, Reason: "failed to find namespace in `bulkWrite` command"}
	}
	entries := elements(nsInfo.Data)
	if len(entries) > 1 {
		return nil, &Error{Command: info.name, Reason: "expected one namespace in `bulkWrite`, but found more than one. Only one namespace is supported."}
	}
	first := entries[0].Value()
	if first.Type != bsoncore.TypeEmbeddedDocument {
		return nil, &Error{Command: info.name, Reason: "nsInfo entries must be documents"}
	}
	nsv, ok := lookup(first.Data, "ns")
	if !ok {
		return nil, &Error{Command: info.name, Reason: "failed to find namespace in `bulkWrite` command"}
	}
	if nsv.Type != bsoncore.TypeString {
		return nil, &Error{Command: info.name, Reason: "expected namespace to be UTF8, got: " + typeName(nsv.Type)}
	}
	ns := nsv.StringValue()
	dot := strings.IndexByte(ns, '.')
	if dot < 0 {
		return nil, &Error{Command: info.name, Reason: "expected namespace to contain dot, got: " + ns}
	}
	if _, ok := lookup(first.Data, "encryptionInformation"); ok {
		return nil, &Error{Command: info.name, Reason: "unexpected `encryptionInformation` present in input `nsInfo`."}
	}
	for _, e := range elements(first.Data) {
		if e.Key() != "ns" {
			return nil, &Error{Command: info.name, Field: e.Key(), Reason: "Unsupported field of a bulkWrite nsInfo entry for encryption"}
		}
	}
	info.db, info.target = ns[:dot], ns[dot+1:]
	info.namespaces = []string{ns}
	return info, nil
}

// Analyze runs query analysis on cmd, run on database db, with the schemas of
// the namespaces Namespaces returned. A namespace missing from schemas has no
// schema (libmongocrypt's "empty schema"). It returns what mongocryptd returns
// in its reply, or an *Error (errors.Is(err, ErrRefused)) naming the field and
// the reason when the command cannot be auto encrypted.
func Analyze(db string, cmd bson.Raw, schemas map[string]Schema) (Result, error) {
	info, err := inspect(db, cmd)
	if err != nil {
		return Result{}, err
	}
	if info.bypass {
		return Result{Command: cmd, Bypass: true}, nil
	}
	res, err := analyze(info, cmd, schemas)
	if err != nil {
		return Result{}, withCommand(err, info.name)
	}
	return res, nil
}

func analyze(info *cmdInfo, cmd bson.Raw, schemas map[string]Schema) (Result, error) {
	a := &analyzer{db: info.db, cmdName: info.name, schemas: map[string]*nsSchema{}}
	if info.name == "create" || info.name == "collMod" {
		// The schema the collection has before the command (schemaMap or
		// server): a new validator may not constrain its encrypted fields.
		ns := info.db + "." + info.target
		if orig, ok := schemas[ns]; ok {
			s, err := parseSchema(ns, orig)
			if err != nil {
				return Result{}, err
			}
			a.before = rootOf(s)
		}
	}
	schemas = validatorSchema(info, cmd, schemas)
	var qeNS, csfleNS string
	for _, ns := range info.namespaces {
		s, err := parseSchema(ns, schemas[ns])
		if err != nil {
			return Result{}, err
		}
		a.schemas[ns] = s
		switch {
		case s.qe:
			qeNS = ns
		case s.csfle && s.requiresEncryption():
			csfleNS = ns
		}
	}
	if qeNS != "" && csfleNS != "" {
		return Result{}, cmdErr("Collection '%s' has encryptedFields configured, but collection '%s' has a JSON schema with encrypted fields: mixing QE and CSFLE collections in one command is not supported", qeNS, csfleNS)
	}
	usesQE := qeNS != ""
	requires := false
	for _, s := range a.schemas {
		requires = requires || s.requiresEncryption()
		a.qe = a.qe || s.qe
	}
	a.requires = requires
	var ei []byte
	if usesQE || info.name == "bulkWrite" {
		ei = a.encryptionInformation(info.namespaces)
	}
	out, err := a.command(info, cmd, ei)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Command:                  out,
		HasPlaceholders:          a.placeholders,
		SchemaRequiresEncryption: requires,
		UsesQE:                   usesQE,
		EncryptionInformation:    ei,
	}, nil
}

func parseSchema(ns string, s Schema) (*nsSchema, error) {
	out := &nsSchema{ns: ns}
	if s.EncryptedFields != nil {
		if err := validateDoc(s.EncryptedFields, 0); err != nil {
			return nil, refusef(ns, "invalid encryptedFields: %v", err)
		}
		root, strEnc, err := parseEncryptedFields(s.EncryptedFields)
		if err != nil {
			return nil, err
		}
		out.root, out.qe, out.efRaw, out.strEnc = root, true, s.EncryptedFields, strEnc
		if !root.hasEnc {
			out.root = nil
		}
		return out, nil
	}
	if s.JSONSchema != nil {
		if err := validateDoc(s.JSONSchema, 0); err != nil {
			return nil, refusef(ns, "invalid JSON schema: %v", err)
		}
		root, err := parseJSONSchema(s.JSONSchema, s.Remote)
		if err != nil {
			return nil, err
		}
		out.csfle = true
		if root.hasEnc {
			out.root = root
		}
	}
	return out, nil
}

// encryptionInformation builds {type: 1, schema: {ns: encryptedFields...}} as
// libmongocrypt appends it: every namespace of the command except those with
// only a JSON schema, each encryptedFields copied with escCollection,
// ecocCollection, fields and strEncodeVersion appended when missing.
func (a *analyzer) encryptionInformation(namespaces []string) []byte {
	schema := newDoc()
	for _, ns := range namespaces {
		s := a.schemas[ns]
		if s.csfle && !s.qe {
			continue
		}
		coll := ns[strings.IndexByte(ns, '.')+1:]
		ef := newDoc()
		var hasEsc, hasEcoc, hasFields, hasSEV bool
		for _, e := range elements(s.efRaw) {
			switch e.Key() {
			case "escCollection":
				hasEsc = true
			case "ecocCollection":
				hasEcoc = true
			case "fields":
				hasFields = true
			case "strEncodeVersion":
				hasSEV = true
			}
			ef.element(e)
		}
		if !hasEsc {
			ef.str("escCollection", "enxcol_."+coll+".esc")
		}
		if !hasEcoc {
			ef.str("ecocCollection", "enxcol_."+coll+".ecoc")
		}
		if !hasFields {
			ef.array("fields", newArray().build())
		}
		if !hasSEV && s.strEnc != 0 {
			ef.int32("strEncodeVersion", s.strEnc)
		}
		schema.doc(ns, ef.build())
	}
	return newDoc().int32("type", 1).doc("schema", schema.build()).build()
}

// OmitEncryptionInformation reports whether libmongocrypt sends a QE command
// to the server without encryptionInformation: always for create, collMod,
// createIndexes and cleanupStructuredEncryptionData; for find, aggregate,
// distinct, count and insert when the encrypted command carries no QE payload
// (hasQEPayload: some BinData subtype 6 of blob subtype 11, 12, 13, 18 or the
// v1 payloads 4, 5, 10). compactStructuredEncryptionData is decided by the
// caller from the encryptedFields (range or text fields present).
func OmitEncryptionInformation(cmdName string, hasQEPayload bool) bool {
	switch cmdName {
	case "cleanupStructuredEncryptionData", "create", "collMod", "createIndexes":
		return true
	case "find", "aggregate", "distinct", "count", "insert":
		return !hasQEPayload
	}
	return false
}
