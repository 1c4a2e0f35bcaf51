package qelayer

import (
	"context"
	"strings"
	"sync"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver/qelayer/qerewrite"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// catalog is what the layer keeps per namespace ("db.coll") for FerretDB.
type catalog struct {
	mu    sync.Mutex
	colls map[string]*collMeta
	locks map[string]*sync.Mutex // the write lock of each namespace with layer-enforced indexes
}

// collMeta is a collection's options and indexes that FerretDB does not keep.
type collMeta struct {
	options bson.D // encryptedFields, validator, validationLevel, validationAction, in order
	indexes []layerIndex
	// schema is the parsed encryptedFields option, nil without one. Immutable: copies share it.
	schema *qerewrite.Schema
}

func (m *collMeta) empty() bool { return len(m.options) == 0 && len(m.indexes) == 0 }

func (m *collMeta) setOption(key string, v any) {
	for i, e := range m.options {
		if e.Key == key {
			m.options[i].Value = v
			return
		}
	}
	m.options = append(m.options, bson.E{Key: key, Value: v})
}

// get returns a copy of the metadata of ns, nil when there is none.
func (c *catalog) get(ns string) *collMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.colls[ns]
	if m == nil {
		return nil
	}
	return &collMeta{options: append(bson.D(nil), m.options...), indexes: append([]layerIndex(nil), m.indexes...), schema: m.schema}
}

// update runs f on the metadata of ns (created when missing) and forgets it when f leaves it
// empty.
func (c *catalog) update(ns string, f func(m *collMeta)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.colls[ns]
	if m == nil {
		m = &collMeta{}
	}
	f(m)
	if m.empty() {
		delete(c.colls, ns)
	} else {
		c.colls[ns] = m
	}
}

func (c *catalog) forget(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.colls, ns)
}

func (c *catalog) forgetDB(db string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ns := range c.colls {
		if strings.HasPrefix(ns, db+".") {
			delete(c.colls, ns)
		}
	}
}

func (c *catalog) rename(from, to string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.colls, to)
	if m := c.colls[from]; m != nil {
		c.colls[to] = m
		delete(c.colls, from)
	}
}

// lock returns the write lock of ns.
func (c *catalog) lock(ns string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.locks[ns]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[ns] = l
	}
	return l
}

// keptOptions are the collection options the layer keeps instead of FerretDB.
var keptOptions = map[string]bool{
	"encryptedFields": true, "validator": true, "validationLevel": true, "validationAction": true,
}

// without returns cmd without the fields named in drop.
func without(cmd bson.Raw, drop map[string]bool) bson.Raw {
	elems, _ := cmd.Elements()
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		if !drop[e.Key()] {
			out = append(out, e...)
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// handleCreate keeps encryptedFields and validators, which FerretDB drops or refuses, and
// creates the collection without them.
//
// MongoDB (src/mongo/db/commands/create_command.cpp) refuses encryptedFields with capped
// (6367301), with viewOn or timeseries (6346401) and on a standalone (6346402), and fills in
// escCollection and ecocCollection as enxcol_.<coll>.esc and .ecoc, and eccCollection before
// 7.0 (setEncryptedDefaultEncryptedCollectionNames in collection_options.cpp). It does not
// create the state collections: the drivers do (before the create; the shell's helper after).
func handleCreate(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("create").StringValueOK()
	var kept bson.D
	elems, _ := r.cmd.Elements()
	for _, e := range elems {
		if keptOptions[e.Key()] {
			kept = append(kept, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	if len(kept) == 0 {
		return nil, errPassThrough
	}
	var schema *qerewrite.Schema
	for i, e := range kept {
		if e.Key != "encryptedFields" {
			continue
		}
		if err := checkEncryptedCreate(s.ln.profile, r.cmd); err != nil {
			return nil, err
		}
		ef, sch, err := validateEncryptedFields(coll, e.Value.(bson.RawValue), s.ln.profile)
		if err != nil {
			return nil, err
		}
		kept[i].Value, schema = ef, sch
	}
	rep, err := s.forward(r, without(r.cmd, keptOptions))
	if err != nil {
		return nil, err
	}
	if okValue(rep) {
		s.layer.cat.update(r.db+"."+coll, func(m *collMeta) {
			for _, e := range kept {
				m.setOption(e.Key, e.Value)
			}
			if schema != nil {
				m.schema = schema
			}
		})
	}
	return rep, nil
}

// checkEncryptedCreate refuses encryptedFields where MongoDB does.
func checkEncryptedCreate(p Profile, cmd bson.Raw) *cmdError {
	if b, ok := cmd.Lookup("capped").BooleanOK(); ok && b {
		return errorf(6367301, "Encrypted fields cannot be used with capped collections")
	}
	_, view := cmd.LookupErr("viewOn")
	_, ts := cmd.LookupErr("timeseries")
	if view == nil || ts == nil {
		return errorf(6346401, "Encrypted fields cannot be used with views or timeseries collections")
	}
	// The default listener (the zero Profile) shows FerretDB's own hello and claims no
	// topology; it keeps encrypted collections so that tests on the default URI can use them.
	// Only a listener that claims a standalone server refuses them, as MongoDB does.
	if p.Topology == TopologySingle {
		return errorf(6346402, "Encrypted collections are not supported on standalone")
	}
	return nil
}

// validateEncryptedFields fills in the state collection names of encryptedFields as MongoDB
// does (enxcol_.<coll>.esc and .ecoc, and .ecc before 7.0), then checks the result as MongoDB
// does at create ([qerewrite.ParseEncryptedFields]: the names' patterns included), and returns
// it with its parsed schema, which the layer keeps for the collection's writes.
func validateEncryptedFields(coll string, v bson.RawValue, p Profile) (bson.D, *qerewrite.Schema, *cmdError) {
	doc, ok := v.DocumentOK()
	if !ok {
		return nil, nil, errorf(14, "BSON field 'encryptedFields' is the wrong type '%s', expected type 'object'", v.Type)
	}
	var ef bson.D
	if err := bson.Unmarshal(doc, &ef); err != nil {
		return nil, nil, errorf(codeFailedToParse, "encryptedFields: %v", err)
	}
	fill := func(key, suffix string) {
		if _, err := doc.LookupErr(key); err != nil {
			ef = append(ef, bson.E{Key: key, Value: "enxcol_." + coll + suffix})
		}
	}
	fill("escCollection", ".esc")
	if p.major() > 0 && p.major() < 7 {
		if name, err := doc.LookupErr("eccCollection"); err == nil {
			if s, ok := name.StringValueOK(); !ok || !strings.HasPrefix(s, "enxcol_.") || !strings.HasSuffix(s, ".ecc") {
				return nil, nil, errorf(7406901, "Encrypted Cache Collection name should follow enxcol_.<collection>.ecc naming pattern")
			}
		}
		fill("eccCollection", ".ecc")
	}
	fill("ecocCollection", ".ecoc")
	schema, err := qerewrite.ParseEncryptedFields(rawDoc(ef))
	if err != nil {
		ce, _ := qeError(err).(*cmdError)
		if ce == nil {
			ce = errorf(codeBadValue, "encryptedFields: %v", err)
		}
		return nil, nil, ce
	}
	return ef, schema, nil
}

// handleDrop drops the collection and forgets what the layer kept for it. MongoDB's drop does
// not drop the state collections of an encrypted collection: it warns that they are left
// (warnEncryptedCollectionsIfNeeded in src/mongo/db/catalog/drop_collection.cpp, log 6491401);
// the drivers drop them. The layer does as MongoDB does.
func handleDrop(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("drop").StringValueOK()
	rep, err := s.forward(r, nil)
	if err != nil {
		return nil, err
	}
	if e := replyError(rep); e == nil || e.code == codeNamespaceNotFound {
		s.layer.cat.forget(r.db + "." + coll)
	}
	return rep, nil
}

func handleDropDatabase(_ context.Context, s *session, r *request) (bson.Raw, error) {
	rep, err := s.forward(r, nil)
	if err != nil {
		return nil, err
	}
	if okValue(rep) {
		s.layer.cat.forgetDB(r.db)
	}
	return rep, nil
}

func handleRename(_ context.Context, s *session, r *request) (bson.Raw, error) {
	from, _ := r.cmd.Lookup("renameCollection").StringValueOK()
	to, _ := r.cmd.Lookup("to").StringValueOK()
	rep, err := s.forward(r, nil)
	if err != nil {
		return nil, err
	}
	if okValue(rep) {
		s.layer.cat.rename(from, to)
	}
	return rep, nil
}

// handleListCollections adds the options the layer keeps to FerretDB's reply.
func handleListCollections(_ context.Context, s *session, r *request) (bson.Raw, error) {
	return s.editReply(r, func(d bson.D) bson.D {
		id, _ := s.addOptions(d, r.db, "firstBatch")
		if id != 0 {
			s.cursors[id] = r.db
		}
		return d
	})
}

// handleGetMore continues a listCollections cursor with the options the layer keeps; other
// cursors pass through.
func handleGetMore(_ context.Context, s *session, r *request) (bson.Raw, error) {
	id, ok := r.cmd.Lookup("getMore").Int64OK()
	db, known := s.cursors[id]
	if !ok || !known {
		return nil, errPassThrough
	}
	return s.editReply(r, func(d bson.D) bson.D {
		next, _ := s.addOptions(d, db, "nextBatch")
		if next == 0 {
			delete(s.cursors, id)
		}
		return d
	})
}

// addOptions sets the kept options of the collections in the batch of a listCollections
// reply d, and returns the cursor's id.
func (s *session) addOptions(d bson.D, db, batchKey string) (int64, bool) {
	var id int64
	for i, e := range d {
		if e.Key != "cursor" {
			continue
		}
		cur, ok := e.Value.(bson.D)
		if !ok {
			return 0, false
		}
		for j, ce := range cur {
			switch ce.Key {
			case "id":
				id, _ = ce.Value.(int64)
			case batchKey:
				batch, ok := ce.Value.(bson.A)
				if !ok {
					continue
				}
				for k, item := range batch {
					if info, ok := item.(bson.D); ok {
						batch[k] = s.addCollOptions(info, db)
					}
				}
				cur[j].Value = batch
			}
		}
		d[i].Value = cur
	}
	return id, true
}

func (s *session) addCollOptions(info bson.D, db string) bson.D {
	var name string
	optIdx := -1
	for i, f := range info {
		switch f.Key {
		case "name":
			name, _ = f.Value.(string)
		case "options":
			optIdx = i
		}
	}
	m := s.layer.cat.get(db + "." + name)
	if m == nil || len(m.options) == 0 {
		return info
	}
	if optIdx < 0 {
		info = append(info, bson.E{Key: "options", Value: bson.D{}})
		optIdx = len(info) - 1
	}
	opts, ok := info[optIdx].Value.(bson.D)
	if !ok {
		return info
	}
	for _, o := range m.options {
		opts = setField(opts, o.Key, o.Value)
	}
	info[optIdx].Value = opts
	return info
}

func setField(d bson.D, key string, v any) bson.D {
	for i, e := range d {
		if e.Key == key {
			d[i].Value = v
			return d
		}
	}
	return append(d, bson.E{Key: key, Value: v})
}

// handleCollMod keeps a validator (validationLevel, validationAction) set by collMod, which
// FerretDB does not implement. A collMod with other options passes through (and FerretDB
// refuses it).
func handleCollMod(_ context.Context, s *session, r *request) (bson.Raw, error) {
	coll, _ := r.cmd.Lookup("collMod").StringValueOK()
	elems, _ := r.cmd.Elements()
	var kept bson.D
	for _, e := range elems[1:] {
		switch k := e.Key(); {
		case k == "validator" || k == "validationLevel" || k == "validationAction":
			kept = append(kept, bson.E{Key: k, Value: e.Value()})
		case k == "$db" || k == "lsid" || k == "$clusterTime" || k == "writeConcern" || k == "comment" || k == "$readPreference" || k == "txnNumber" || k == "apiVersion" || k == "apiStrict" || k == "apiDeprecationErrors":
		default:
			return nil, errPassThrough
		}
	}
	if len(kept) == 0 {
		return nil, errPassThrough
	}
	exists, err := s.collectionExists(r.db, coll)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, errorf(codeNamespaceNotFound, "ns does not exist: %s.%s", r.db, coll)
	}
	s.layer.cat.update(r.db+"."+coll, func(m *collMeta) {
		for _, e := range kept {
			m.setOption(e.Key, e.Value)
		}
	})
	return rawDoc(bson.D{{Key: "ok", Value: 1.0}}), nil
}

// collectionExists asks FerretDB whether db.coll exists.
func (s *session) collectionExists(db, coll string) (bool, error) {
	rep, err := s.command(db, bson.D{{Key: "listCollections", Value: 1}, {Key: "filter", Value: bson.D{{Key: "name", Value: coll}}}, {Key: "nameOnly", Value: true}})
	if err != nil {
		return false, err
	}
	batch, _ := rep.Lookup("cursor", "firstBatch").ArrayOK()
	vals, _ := batch.Values()
	return len(vals) > 0, nil
}
