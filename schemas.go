// The schemas of automatic encryption: the schema of a namespace from encryptedFieldsMap,
// schemaMap or the server's collection options (listCollections), cached; and the keyAltNames
// of encryptedFields resolved to key ids.

package mongocrypt

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/analysis"
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

// local returns the schema of ns from encryptedFieldsMap or schemaMap; the zero Schema when
// neither has ns.
func (s *schemaSource) local(ns string) analysis.Schema {
	if ef, ok := s.efMap[ns]; ok {
		return analysis.Schema{EncryptedFields: ef}
	}
	if js, ok := s.schemaMap[ns]; ok {
		return analysis.Schema{JSONSchema: js}
	}
	return analysis.Schema{}
}

// inMaps tells whether encryptedFieldsMap or schemaMap has ns.
func (s *schemaSource) inMaps(ns string) bool {
	_, ef := s.efMap[ns]
	_, js := s.schemaMap[ns]
	return ef || js
}

// schema returns the schema of ns.
func (s *schemaSource) schema(ctx context.Context, ns string) (analysis.Schema, error) {
	if s.inMaps(ns) {
		return s.local(ns), nil
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

// fetch is listCollection, recorded at Debug: the namespace, the schema found and the
// duration.
func (s *schemaSource) fetch(ctx context.Context, ns string) (cachedSchema, error) {
	if !s.log.on(ctx, slog.LevelDebug) {
		return s.listCollection(ctx, ns)
	}
	start := time.Now()
	c, err := s.listCollection(ctx, ns)
	schema := "none"
	switch {
	case c.view:
		schema = "view"
	case c.s.EncryptedFields != nil:
		schema = "encryptedFields"
	case c.s.JSONSchema != nil:
		schema = "$jsonSchema"
	}
	attrs := []slog.Attr{slog.String("namespace", ns), slog.String("schema", schema), durationSince(start)}
	if err != nil {
		attrs = append(attrs, errAttr(err))
	}
	s.log.l.LogAttrs(ctx, slog.LevelDebug, "collection options read", attrs...)
	return c, err
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
