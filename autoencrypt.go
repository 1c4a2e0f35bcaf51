package mongocrypt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/analysis"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// schemaSource finds the encryption schema of a namespace: encryptedFieldsMap first, then
// schemaMap, then the server's collection options (listCollections), cached.
type schemaSource struct {
	efMap     map[string]bson.Raw
	schemaMap map[string]bson.Raw
	meta      *mongo.Client // the client that runs listCollections
	ttl       time.Duration
	log       logger

	mu    sync.Mutex
	cache map[string]cachedSchema
}

type cachedSchema struct {
	s       analysis.Schema
	view    bool
	expires time.Time // zero: never
}

func marshalMap(codec bsonCodec, m map[string]any, what string) (map[string]bson.Raw, error) {
	out := make(map[string]bson.Raw, len(m))
	for ns, v := range m {
		if _, _, ok := strings.Cut(ns, "."); !ok {
			return nil, clientErr("%s: %q is not a namespace of the form <database>.<collection>", what, ns)
		}
		raw, err := codec.marshal(v, what+" entry "+ns)
		if err != nil {
			return nil, err
		}
		out[ns] = raw
	}
	return out, nil
}

// schema returns the schema of ns.
func (s *schemaSource) schema(ctx context.Context, ns string) (analysis.Schema, error) {
	if ef, ok := s.efMap[ns]; ok {
		return analysis.Schema{EncryptedFields: ef}, nil
	}
	if js, ok := s.schemaMap[ns]; ok {
		return analysis.Schema{JSONSchema: js}, nil
	}
	s.mu.Lock()
	c, ok := s.cache[ns]
	s.mu.Unlock()
	if !ok || (!c.expires.IsZero() && time.Now().After(c.expires)) {
		var err error
		if c, err = s.fetch(ctx, ns); err != nil {
			return analysis.Schema{}, err
		}
		if s.ttl > 0 {
			c.expires = time.Now().Add(s.ttl)
		}
		s.mu.Lock()
		s.cache[ns] = c
		s.mu.Unlock()
	}
	if c.view {
		return analysis.Schema{}, &Error{Code: CodeAnalysis, Err: fmt.Errorf("cannot auto encrypt a view: %s", ns)}
	}
	return c.s, nil
}

// listCollection reads the collection options of ns with listCollections.
func (s *schemaSource) listCollection(ctx context.Context, ns string) (cachedSchema, error) {
	db, coll, _ := strings.Cut(ns, ".")
	cur, err := s.meta.Database(db).ListCollections(ctx, bson.D{{Key: "name", Value: coll}})
	if err != nil {
		return cachedSchema{}, &Error{Code: CodeClient, Message: "reading the collection options of " + ns, Err: err}
	}
	defer cur.Close(ctx)
	var c cachedSchema
	if cur.Next(ctx) {
		info := cur.Current
		if t, _ := info.Lookup("type").StringValueOK(); t == "view" {
			c.view = true
			return c, nil
		}
		opts, _ := info.Lookup("options").DocumentOK()
		if ef, ok := opts.Lookup("encryptedFields").DocumentOK(); ok {
			c.s.EncryptedFields = append(bson.Raw(nil), ef...)
		} else if js, ok := opts.Lookup("validator", "$jsonSchema").DocumentOK(); ok {
			c.s.JSONSchema = append(bson.Raw(nil), js...)
			c.s.Remote = true
		}
	}
	if err := cur.Err(); err != nil {
		return cachedSchema{}, &Error{Code: CodeClient, Message: "reading the collection options of " + ns, Err: err}
	}
	return c, nil
}

// forget drops the cached schema of ns (after create or drop through this client).
func (s *schemaSource) forget(ns string) {
	s.mu.Lock()
	delete(s.cache, ns)
	s.mu.Unlock()
}

// resolveAltNames returns encryptedFields with every field's keyAltName replaced by the keyId
// of that key, as libmongocrypt does before analysis and in create commands.
func (e *engine) resolveAltNames(ctx context.Context, ef bson.Raw) (bson.Raw, error) {
	fields, ok := ef.Lookup("fields").ArrayOK()
	if !ok {
		return ef, nil
	}
	vals, err := fields.Values()
	if err != nil {
		return nil, clientErr("encryptedFields.fields: %w", err)
	}
	var req keyRequest
	for _, v := range vals {
		if d, ok := v.DocumentOK(); ok {
			if n, ok := d.Lookup("keyAltName").StringValueOK(); ok {
				req.addName(n)
			}
		}
	}
	if len(req.names) == 0 {
		return ef, nil
	}
	ks, err := e.keys(ctx, req)
	if err != nil {
		return nil, err
	}
	// Rebuild: fields with keyAltName get keyId in its place.
	out := bsoncore.NewDocumentBuilder()
	elems, _ := ef.Elements()
	for _, el := range elems {
		if el.Key() != "fields" {
			out.AppendValue(el.Key(), bsoncore.Value{Type: bsoncore.Type(el.Value().Type), Data: el.Value().Value})
			continue
		}
		arr := bsoncore.NewArrayBuilder()
		for _, v := range vals {
			d, ok := v.DocumentOK()
			if !ok {
				arr.AppendValue(bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value})
				continue
			}
			fd := bsoncore.NewDocumentBuilder()
			fes, _ := d.Elements()
			for _, fe := range fes {
				if fe.Key() == "keyAltName" {
					if n, ok := fe.Value().StringValueOK(); ok {
						k := ks.byName[n]
						fd.AppendBinary("keyId", 4, k.id[:])
						continue
					}
				}
				fd.AppendValue(fe.Key(), bsoncore.Value{Type: bsoncore.Type(fe.Value().Type), Data: fe.Value().Value})
			}
			arr.AppendDocument(fd.Build())
		}
		out.AppendArray("fields", arr.Build())
	}
	return bson.Raw(out.Build()), nil
}

// analyzeCommand is automatic encryption of one command: query analysis marks the values to
// encrypt with placeholders, which are then encrypted, with one key vault query for all their
// keys.
func (a *AutoEncrypter) analyzeCommand(ctx context.Context, db string, cmd bson.Raw) (bson.Raw, error) {
	name, err := commandName(cmd)
	if err != nil {
		return nil, err
	}
	// Namespaces refuses a command that already holds an encryption placeholder, before any
	// analysis and with bypassQueryAnalysis too.
	nss, err := analysis.Namespaces(db, cmd)
	if err != nil {
		return nil, analysisErr(err)
	}
	if name == "drop" {
		nss = []string{db + "." + targetCollection(cmd)}
	}
	if len(nss) == 0 {
		return cmd, nil // a command that bypasses auto encryption
	}
	schemas := make(map[string]analysis.Schema, len(nss))
	for _, ns := range nss {
		s, err := a.schemas.schema(ctx, ns)
		if err != nil {
			return nil, err
		}
		if s.EncryptedFields != nil {
			if s.EncryptedFields, err = a.e.resolveAltNames(ctx, s.EncryptedFields); err != nil {
				return nil, err
			}
		}
		schemas[ns] = s
	}
	if name == "create" && !a.bypassQueryAnalysis {
		// Query analysis refuses validators that compare encrypted fields, and views.
		if _, err := analysis.Analyze(db, cmd, schemas); err != nil {
			return nil, analysisErr(err)
		}
	}
	if name == "create" || name == "drop" {
		return a.createOrDrop(ctx, db, name, cmd, schemas)
	}
	if a.bypassQueryAnalysis {
		return a.finishQE(ctx, db, name, cmd, cmd, schemas, nil)
	}
	res, err := analysis.Analyze(db, cmd, schemas)
	if err != nil {
		return nil, analysisErr(err)
	}
	if res.Bypass {
		return cmd, nil
	}
	out := cmd
	if res.HasPlaceholders {
		if out, err = a.encryptPlaceholders(ctx, res.Command); err != nil {
			return nil, err
		}
	}
	if !res.UsesQE {
		return out, nil
	}
	return a.finishQE(ctx, db, name, cmd, out, schemas, res.EncryptionInformation)
}

// finishQE is libmongocrypt's QE finalization: the encryptionInformation of the analysed
// command is replaced by the one for the server (or left out where the server refuses it),
// and compaction and cleanup commands get their tokens.
func (a *AutoEncrypter) finishQE(ctx context.Context, db, name string, orig, out bson.Raw, schemas map[string]analysis.Schema, ei bson.Raw) (bson.Raw, error) {
	target := db + "." + targetCollection(orig)
	efRaw := schemas[target].EncryptedFields
	if ei == nil {
		if efRaw == nil {
			return out, nil // bypassQueryAnalysis on a collection without encryptedFields
		}
		var err error
		if ei, err = encryptionInformation(target, efRaw); err != nil {
			return nil, err
		}
	}
	out = stripEncryptionInformation(name, out)
	var omit bool
	switch name {
	case "compactStructuredEncryptionData":
		ef, err := qe.ParseEncryptedFields(efRaw)
		if err != nil {
			return nil, &Error{Code: CodeClient, Err: err}
		}
		omit = true
		for _, f := range ef.Fields {
			if f.Queries&^qe.QueryEquality != 0 {
				omit = false // range and text fields need encryptionInformation from 8.0 on
			}
		}
	default:
		omit = analysis.OmitEncryptionInformation(name, hasQEPayload(out))
	}
	if !omit {
		out = appendEncryptionInformation(name, out, ei)
	}
	if name == "compactStructuredEncryptionData" || name == "cleanupStructuredEncryptionData" {
		if efRaw == nil {
			return nil, clientErr("expected encryptedFields for %s on %s but found none", name, target)
		}
		tokens, err := a.compactionTokens(ctx, efRaw)
		if err != nil {
			return nil, err
		}
		field := "compactionTokens"
		if name == "cleanupStructuredEncryptionData" {
			field = "cleanupTokens"
		}
		out = appendDoc(out, field, tokens)
	}
	return out, nil
}

func (a *AutoEncrypter) compactionTokens(ctx context.Context, efRaw bson.Raw) (bson.Raw, error) {
	ef, err := qe.ParseEncryptedFields(efRaw)
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	ks, err := a.e.keysByID(ctx, ef.KeyIDs())
	if err != nil {
		return nil, err
	}
	tokens, err := ef.CompactionTokens(ks.material)
	if err != nil {
		return nil, qeErr(err)
	}
	return tokens, nil
}

// encryptPlaceholders replaces every placeholder of a marked command by its ciphertext.
func (a *AutoEncrypter) encryptPlaceholders(ctx context.Context, marked bson.Raw) (bson.Raw, error) {
	var req keyRequest
	err := visitEncrypted(marked, func(data []byte) error {
		if len(data) == 0 {
			return nil
		}
		switch fleblob.Subtype(data[0]) {
		case fleblob.FLE1EncryptionPlaceholder:
			p, err := fle1.ParsePlaceholder(data)
			if err != nil {
				return &Error{Code: CodeAnalysis, Err: err}
			}
			if p.KeyID != nil {
				req.addID(*p.KeyID)
			} else {
				req.addName(p.KeyAltName)
			}
		case fleblob.FLE2EncryptionPlaceholder:
			p, err := qe.ParsePlaceholder(data)
			if err != nil {
				return &Error{Code: CodeAnalysis, Err: err}
			}
			for _, id := range p.KeyIDs() {
				req.addID(id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ks, err := a.e.keys(ctx, req)
	if err != nil {
		return nil, err
	}
	return replaceEncrypted(make([]byte, 0, len(marked)+len(marked)/2), marked, 0, func(dst, data []byte) ([]byte, bson.Type, bool, error) {
		if len(data) == 0 {
			return dst, 0, false, nil
		}
		switch fleblob.Subtype(data[0]) {
		case fleblob.FLE1EncryptionPlaceholder:
			p, err := fle1.ParsePlaceholder(data)
			if err != nil {
				return nil, 0, false, &Error{Code: CodeAnalysis, Err: err}
			}
			var k *dataKey
			if p.KeyID != nil {
				k, err = ks.id(*p.KeyID)
			} else {
				k = ks.byName[p.KeyAltName]
			}
			if err != nil {
				return nil, 0, false, err
			}
			start := len(dst)
			dst = append(dst, 0, 0, 0, 0, 6)
			dst, err = fle1.AppendEncrypt(dst, k.fle1, k.id, p.Algorithm, p.Value, a.e.rng)
			if err != nil {
				return nil, 0, false, &Error{Code: CodeClient, Err: err}
			}
			putLen(dst[start:], len(dst)-start-5)
			return dst, bson.TypeBinary, true, nil
		case fleblob.FLE2EncryptionPlaceholder:
			p, err := qe.ParsePlaceholder(data)
			if err != nil {
				return nil, 0, false, &Error{Code: CodeAnalysis, Err: err}
			}
			blob, err := p.Encrypt(ks.material, a.e.rng)
			if err != nil {
				return nil, 0, false, qeErr(err)
			}
			return appendBinary(dst, blob), bson.TypeBinary, true, nil
		}
		return dst, 0, false, nil
	})
}

// hasQEPayload reports whether a command holds a Queryable Encryption payload for the server.
func hasQEPayload(cmd bson.Raw) bool {
	found := false
	_ = visitEncrypted(cmd, func(data []byte) error {
		if len(data) > 0 {
			switch fleblob.Subtype(data[0]) {
			case fleblob.FLE2InsertUpdatePayload, fleblob.FLE2FindEqualityPayload, fleblob.FLE2FindRangePayload,
				fleblob.FLE2InsertUpdatePayloadV2, fleblob.FLE2FindEqualityPayloadV2, fleblob.FLE2FindRangePayloadV2,
				fleblob.FLE2FindTextPayload:
				found = true
			}
		}
		return nil
	})
	return found
}

func commandName(cmd bson.Raw) (string, error) {
	e, err := cmd.IndexErr(0)
	if err != nil {
		return "", clientErr("the command is empty or malformed: %w", err)
	}
	return e.Key(), nil
}

// targetCollection is the collection a command names first (its first value), or "" when the
// command does not name one.
func targetCollection(cmd bson.Raw) string {
	e, err := cmd.IndexErr(0)
	if err != nil {
		return ""
	}
	if e.Key() == "explain" {
		if inner, ok := e.Value().DocumentOK(); ok {
			return targetCollection(inner)
		}
	}
	s, _ := e.Value().StringValueOK()
	return s
}

func analysisErr(err error) error {
	if errors.Is(err, analysis.ErrRefused) {
		return &Error{Code: CodeAnalysis, Err: err}
	}
	return &Error{Code: CodeClient, Err: err}
}

// encryptionInformation builds {type: 1, schema: {ns: encryptedFields}} with the default
// state collection names filled in, as libmongocrypt sends it.
func encryptionInformation(ns string, ef bson.Raw) (bson.Raw, error) {
	_, coll, _ := strings.Cut(ns, ".")
	b := bsoncore.NewDocumentBuilder()
	elems, err := ef.Elements()
	if err != nil {
		return nil, clientErr("encryptedFields of %s: %w", ns, err)
	}
	has := map[string]bool{}
	for _, e := range elems {
		has[e.Key()] = true
		b.AppendValue(e.Key(), bsoncore.Value{Type: bsoncore.Type(e.Value().Type), Data: e.Value().Value})
	}
	if !has["escCollection"] {
		b.AppendString("escCollection", "enxcol_."+coll+".esc")
	}
	if !has["ecocCollection"] {
		b.AppendString("ecocCollection", "enxcol_."+coll+".ecoc")
	}
	schema := bsoncore.NewDocumentBuilder().AppendDocument(ns, b.Build()).Build()
	return bson.Raw(bsoncore.NewDocumentBuilder().AppendInt32("type", 1).AppendDocument("schema", schema).Build()), nil
}

// stripEncryptionInformation removes encryptionInformation from where a command carries it:
// top level, inside explain, or inside nsInfo.0 of bulkWrite.
func stripEncryptionInformation(name string, cmd bson.Raw) bson.Raw {
	return rewriteEI(name, cmd, nil)
}

// appendEncryptionInformation adds encryptionInformation where the server expects it.
func appendEncryptionInformation(name string, cmd, ei bson.Raw) bson.Raw {
	return rewriteEI(name, cmd, ei)
}

// rewriteEI drops any encryptionInformation at the place a command of this name carries it
// and, when ei is not nil, appends ei there.
func rewriteEI(name string, cmd, ei bson.Raw) bson.Raw {
	edit := func(doc bson.Raw) bson.Raw {
		b := bsoncore.NewDocumentBuilder()
		elems, _ := doc.Elements()
		for _, e := range elems {
			if e.Key() == "encryptionInformation" {
				continue
			}
			b.AppendValue(e.Key(), bsoncore.Value{Type: bsoncore.Type(e.Value().Type), Data: e.Value().Value})
		}
		if ei != nil {
			b.AppendDocument("encryptionInformation", ei)
		}
		return bson.Raw(b.Build())
	}
	switch name {
	case "explain":
		inner, ok := cmd.Lookup("explain").DocumentOK()
		if !ok {
			return cmd
		}
		return replaceField(cmd, "explain", bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: edit(inner)})
	case "bulkWrite":
		arr, ok := cmd.Lookup("nsInfo").ArrayOK()
		if !ok {
			return cmd
		}
		vals, _ := arr.Values()
		ab := bsoncore.NewArrayBuilder()
		for i, v := range vals {
			if d, ok := v.DocumentOK(); ok && i == 0 {
				ab.AppendDocument(edit(d))
				continue
			}
			ab.AppendValue(bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value})
		}
		return replaceField(cmd, "nsInfo", bsoncore.Value{Type: bsoncore.TypeArray, Data: ab.Build()})
	}
	return edit(cmd)
}

// replaceField returns doc with the value of key replaced.
func replaceField(doc bson.Raw, key string, v bsoncore.Value) bson.Raw {
	b := bsoncore.NewDocumentBuilder()
	elems, _ := doc.Elements()
	for _, e := range elems {
		if e.Key() == key {
			b.AppendValue(key, v)
			continue
		}
		b.AppendValue(e.Key(), bsoncore.Value{Type: bsoncore.Type(e.Value().Type), Data: e.Value().Value})
	}
	return bson.Raw(b.Build())
}

// appendDoc returns doc with key: sub appended.
func appendDoc(doc bson.Raw, key string, sub bson.Raw) bson.Raw {
	out := make([]byte, 0, len(doc)+len(key)+len(sub)+2)
	out = append(out, doc[:len(doc)-1]...)
	out = bsoncore.AppendDocumentElement(out, key, sub)
	out = append(out, 0)
	putLen(out, len(out))
	return out
}

// createOrDrop handles create and drop of Queryable Encryption collections. The driver creates
// and drops the state collections itself only when the encryptedFields are in the options of
// the call; those of encryptedFieldsMap it cannot see, so they are handled here: a create gets
// the state collections, the encryptedFields and the __safeContent__ index; a drop drops the
// state collections first.
func (a *AutoEncrypter) createOrDrop(ctx context.Context, db, name string, cmd bson.Raw, schemas map[string]analysis.Schema) (bson.Raw, error) {
	coll := targetCollection(cmd)
	ns := db + "." + coll
	defer a.schemas.forget(ns)
	_, inMap := a.schemas.efMap[ns]
	if name == "drop" {
		if inMap {
			if err := a.dropStateCollections(ctx, db, coll, schemas[ns].EncryptedFields); err != nil {
				return nil, err
			}
		}
		return cmd, nil
	}
	// create
	var ef bson.Raw
	if v, err := cmd.LookupErr("encryptedFields"); err == nil {
		d, ok := v.DocumentOK()
		if !ok {
			return nil, clientErr("create: encryptedFields must be a document")
		}
		if ef, err = a.e.resolveAltNames(ctx, d); err != nil {
			return nil, err
		}
	} else if inMap {
		ef = schemas[ns].EncryptedFields
	}
	if ef == nil {
		return cmd, nil
	}
	parsed, err := qe.ParseEncryptedFields(ef)
	if err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	if ef, err = parsed.WithStrEncodeVersion(ef); err != nil {
		return nil, &Error{Code: CodeClient, Err: err}
	}
	out := replaceOrAppend(cmd, "encryptedFields", ef)
	if _, err := cmd.LookupErr("encryptedFields"); err == nil {
		// The driver's CreateCollection with EncryptedFields creates the state collections
		// and the index around this command itself.
		return out, nil
	}
	// encryptedFieldsMap: do what the driver would have done, around the command.
	if err := a.createStateCollections(ctx, db, coll, ef); err != nil {
		return nil, err
	}
	if err := a.schemas.meta.Database(db).RunCommand(ctx, out).Err(); err != nil {
		return nil, withMessage(err, "creating "+ns)
	}
	// The collection exists now. The command the driver sends in place of create makes the
	// __safeContent__ index, the last step of creating a Queryable Encryption collection, and
	// answers as create does.
	return bson.Raw(bsoncore.NewDocumentBuilder().
		AppendString("createIndexes", coll).
		AppendArray("indexes", bsoncore.NewArrayBuilder().AppendDocument(bsoncore.NewDocumentBuilder().
			AppendDocument("key", bsoncore.NewDocumentBuilder().AppendInt32("__safeContent__", 1).Build()).
			AppendString("name", "__safeContent___1").Build()).Build()).
		Build()), nil
}

func replaceOrAppend(doc bson.Raw, key string, sub bson.Raw) bson.Raw {
	if _, err := doc.LookupErr(key); err == nil {
		return replaceField(doc, key, bsoncore.Value{Type: bsoncore.TypeEmbeddedDocument, Data: sub})
	}
	return appendDoc(doc, key, sub)
}

// stateCollections returns the names of the ESC and ECOC collections of coll.
func stateCollections(coll string, ef bson.Raw) (esc, ecoc string) {
	esc, ecoc = "enxcol_."+coll+".esc", "enxcol_."+coll+".ecoc"
	if s, ok := ef.Lookup("escCollection").StringValueOK(); ok {
		esc = s
	}
	if s, ok := ef.Lookup("ecocCollection").StringValueOK(); ok {
		ecoc = s
	}
	return esc, ecoc
}

func (a *AutoEncrypter) createStateCollections(ctx context.Context, db, coll string, ef bson.Raw) error {
	esc, ecoc := stateCollections(coll, ef)
	for _, name := range []string{esc, ecoc} {
		err := a.schemas.meta.Database(db).CreateCollection(ctx, name,
			options.CreateCollection().SetClusteredIndex(bson.D{{Key: "key", Value: bson.D{{Key: "_id", Value: 1}}}, {Key: "unique", Value: true}}))
		if err != nil {
			return withMessage(err, "creating the state collection "+db+"."+name)
		}
	}
	return nil
}

func (a *AutoEncrypter) dropStateCollections(ctx context.Context, db, coll string, ef bson.Raw) error {
	esc, ecoc := stateCollections(coll, ef)
	for _, name := range []string{esc, ecoc} {
		if err := a.schemas.meta.Database(db).Collection(name).Drop(ctx); err != nil {
			return withMessage(err, "dropping the state collection "+db+"."+name)
		}
	}
	return nil
}
