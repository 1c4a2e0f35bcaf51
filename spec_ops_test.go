package mongocrypt

// Entities (clients, databases, collections, ClientEncryption objects), the command events
// they record, and the operations of the test files.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ---- events ----

// specIgnoredCommands are never recorded: security commands (command monitoring spec) and
// fail point configuration.
var specIgnoredCommands = map[string]bool{
	"hello": true, "ismaster": true, "isMaster": true, "saslStart": true, "saslContinue": true,
	"getnonce": true, "authenticate": true, "createUser": true, "updateUser": true,
	"copydbgetnonce": true, "copydbsaslstart": true, "copydb": true, "configureFailPoint": true,
}

type specActualEvent struct {
	kind, name, db string
	doc            bson.Raw
}

// specEventLog records the command events of one client (and of the internal clients it
// makes, which share its monitor).
type specEventLog struct {
	mu                         sync.Mutex
	on                         bool
	started, succeeded, failed bool
	events                     []specActualEvent
}

func (l *specEventLog) add(kind, name, db string, doc bson.Raw) {
	if specIgnoredCommands[name] {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on || (kind == "started" && !l.started) || (kind == "succeeded" && !l.succeeded) || (kind == "failed" && !l.failed) {
		return
	}
	l.events = append(l.events, specActualEvent{kind: kind, name: name, db: db, doc: append(bson.Raw(nil), doc...)})
}

func (l *specEventLog) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			l.add("started", e.CommandName, e.DatabaseName, e.Command)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			l.add("succeeded", e.CommandName, e.DatabaseName, e.Reply)
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			l.add("failed", e.CommandName, e.DatabaseName, nil)
		},
	}
}

func (l *specEventLog) names() string {
	var s []string
	for _, e := range l.events {
		s = append(s, e.kind+":"+e.name+"@"+e.db)
	}
	return strings.Join(s, ", ")
}

// ---- entities ----

type specClient struct {
	c   *mongo.Client
	log *specEventLog
}

type specEntities struct {
	clients map[string]*specClient
	dbs     map[string]*mongo.Database
	colls   map[string]*mongo.Collection
	ces     map[string]*ClientEncryption
	saved   map[string]bson.RawValue
	closers []func()
}

func newSpecEntities() *specEntities {
	return &specEntities{clients: map[string]*specClient{}, dbs: map[string]*mongo.Database{},
		colls: map[string]*mongo.Collection{}, ces: map[string]*ClientEncryption{}, saved: map[string]bson.RawValue{}}
}

func (e *specEntities) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

func (e *specEntities) record(on bool) {
	for _, c := range e.clients {
		c.log.mu.Lock()
		c.log.on = on
		c.log.mu.Unlock()
	}
}

// dump lists the commands the clients sent, for failure messages.
func (e *specEntities) dump() string {
	var b strings.Builder
	for id, c := range e.clients {
		c.log.mu.Lock()
		for _, ev := range c.log.events {
			fmt.Fprintf(&b, "\n  %s %s: %s", id, ev.kind, ev.doc)
		}
		c.log.mu.Unlock()
	}
	return b.String()
}

// checkEvents compares the events a client recorded with the expected ones, in order.
func (e *specEntities) checkEvents(want specClientEvents, legacy bool) error {
	c, ok := e.clients[want.client]
	if !ok {
		return fmt.Errorf("events: no client %q", want.client)
	}
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	got := c.log.events
	if len(got) < len(want.events) || (!want.ignoreExtra && len(got) != len(want.events)) {
		var exp []string
		for _, w := range want.events {
			exp = append(exp, w.kind+":"+w.commandName)
		}
		return fmt.Errorf("events of %s: got %d [%s], want %d [%s]", want.client, len(got), c.log.names(), len(want.events), strings.Join(exp, ", "))
	}
	mode := specMatchMode{legacyNull: legacy, saved: e.saved}
	for i, w := range want.events {
		g := got[i]
		where := fmt.Sprintf("event %d (%s %s)", i, g.kind, g.name)
		if g.kind != w.kind {
			return fmt.Errorf("%s: want a %s event of %s; events: %s", where, w.kind, w.commandName, c.log.names())
		}
		if w.commandName != "" && g.name != w.commandName {
			return fmt.Errorf("%s: command %q, want %q; events: %s", where, g.name, w.commandName, c.log.names())
		}
		if w.databaseName != "" && g.db != w.databaseName {
			return fmt.Errorf("%s: database %q, want %q", where, g.db, w.databaseName)
		}
		if w.doc != nil {
			if err := specMatch(where, specDocValue(w.doc), specDocValue(g.doc), true, true, mode); err != nil {
				return fmt.Errorf("%w\n  actual: %s", err, g.doc)
			}
		}
	}
	return nil
}

// createEntity makes one entity of createEntities.
func (r *specRunner) createEntity(ctx context.Context, t *testing.T, e bson.Raw, ents *specEntities, legacy bool) error {
	first, err := e.IndexErr(0)
	if err != nil {
		return err
	}
	spec, ok := first.Value().DocumentOK()
	if !ok {
		return fmt.Errorf("entity %s is not a document", first.Key())
	}
	id, _ := spec.Lookup("id").StringValueOK()
	switch first.Key() {
	case "client":
		log := &specEventLog{started: legacy}
		if obs, ok := spec.Lookup("observeEvents").ArrayOK(); ok {
			vals, _ := obs.Values()
			for _, v := range vals {
				switch v.StringValue() {
				case "commandStartedEvent":
					log.started = true
				case "commandSucceededEvent":
					log.succeeded = true
				case "commandFailedEvent":
					log.failed = true
				default:
					return fmt.Errorf("observeEvents %q is not supported", v.StringValue())
				}
			}
		}
		opts := options.Client().ApplyURI(r.uri).SetMonitor(log.monitor())
		if uo, ok := spec.Lookup("uriOptions").DocumentOK(); ok {
			elems, _ := uo.Elements()
			for _, el := range elems {
				switch el.Key() {
				case "timeoutMS":
					opts.SetTimeout(time.Duration(specInt(el.Value())) * time.Millisecond)
				default:
					return fmt.Errorf("uriOptions.%s is not supported", el.Key())
				}
			}
		}
		for _, k := range []string{"useMultipleMongoses", "ignoreCommandMonitoringEvents", "observeSensitiveCommands", "storeEventsAsEntities", "serverApi"} {
			if _, err := spec.LookupErr(k); err == nil {
				return fmt.Errorf("client.%s is not supported", k)
			}
		}
		var c *mongo.Client
		if ae, ok := spec.Lookup("autoEncryptOpts").DocumentOK(); ok {
			aeo, err := r.autoEncryptOptions(ae, legacy)
			if err != nil {
				return err
			}
			c, err = Connect(opts.SetAutoEncryptionOptions(aeo))
			if err != nil {
				return err
			}
		} else if c, err = mongo.Connect(opts); err != nil {
			return err
		}
		ents.clients[id] = &specClient{c: c, log: log}
		ents.closers = append(ents.closers, func() { _ = c.Disconnect(context.Background()) })
	case "database":
		c, ok := ents.clients[spec.Lookup("client").StringValue()]
		if !ok {
			return fmt.Errorf("database %s: no client %s", id, spec.Lookup("client"))
		}
		ents.dbs[id] = c.c.Database(spec.Lookup("databaseName").StringValue())
	case "collection":
		db, ok := ents.dbs[spec.Lookup("database").StringValue()]
		if !ok {
			return fmt.Errorf("collection %s: no database %s", id, spec.Lookup("database"))
		}
		if _, err := spec.LookupErr("collectionOptions"); err == nil {
			return fmt.Errorf("collectionOptions are not supported")
		}
		ents.colls[id] = db.Collection(spec.Lookup("collectionName").StringValue())
	case "clientEncryption":
		o := spec.Lookup("clientEncryptionOpts").Document()
		kvc, ok := ents.clients[o.Lookup("keyVaultClient").StringValue()]
		if !ok {
			return fmt.Errorf("clientEncryption %s: no keyVaultClient %s", id, o.Lookup("keyVaultClient"))
		}
		prov, tlsMap, hc, err := r.kms.providers(o.Lookup("kmsProviders").Document())
		if err != nil {
			return err
		}
		b := options.ClientEncryption().SetKeyVaultNamespace(o.Lookup("keyVaultNamespace").StringValue()).SetKmsProviders(prov)
		if len(tlsMap) > 0 {
			b.SetTLSConfig(tlsMap)
		}
		if v, err := o.LookupErr("keyExpirationMS"); err == nil {
			b.SetKeyExpiration(time.Duration(specInt(v)) * time.Millisecond)
		}
		b.Opts = append(b.Opts, func(o *options.ClientEncryptionOptions) error { o.HTTPClient = hc; return nil })
		ce, err := NewClientEncryption(kvc.c, b)
		if err != nil {
			return err
		}
		ents.ces[id] = ce
		ents.closers = append(ents.closers, func() { _ = ce.Close(context.Background()) })
	default:
		return fmt.Errorf("entity type %s is not supported", first.Key())
	}
	return nil
}

func specInt(v bson.RawValue) int64 {
	switch v.Type {
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return int64(v.Double())
	}
	return 0
}

// specDocMap turns {ns: doc, ...} into the map the options want.
func specDocMap(d bson.Raw) map[string]any {
	m := map[string]any{}
	elems, _ := d.Elements()
	for _, e := range elems {
		m[e.Key()] = e.Value().Document()
	}
	return m
}

// autoEncryptOptions builds the driver's options from a test's autoEncryptOpts.
func (r *specRunner) autoEncryptOptions(ae bson.Raw, legacy bool) (*options.AutoEncryptionOptions, error) {
	o := options.AutoEncryption()
	if legacy {
		o.SetKeyVaultNamespace("keyvault.datakeys")
	}
	elems, err := ae.Elements()
	if err != nil {
		return nil, err
	}
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "keyVaultNamespace":
			o.SetKeyVaultNamespace(v.StringValue())
		case "kmsProviders":
			prov, tlsMap, hc, err := r.kms.providers(v.Document())
			if err != nil {
				return nil, err
			}
			o.SetKmsProviders(prov)
			if len(tlsMap) > 0 {
				o.SetTLSConfig(tlsMap)
			}
			o.HTTPClient = hc
		case "schemaMap":
			o.SetSchemaMap(specDocMap(v.Document()))
		case "encryptedFieldsMap":
			o.SetEncryptedFieldsMap(specDocMap(v.Document()))
		case "bypassAutoEncryption":
			o.SetBypassAutoEncryption(v.Boolean())
		case "bypassQueryAnalysis":
			o.SetBypassQueryAnalysis(v.Boolean())
		case "keyExpirationMS":
			o.SetKeyExpiration(time.Duration(specInt(v)) * time.Millisecond)
		case "extraOptions":
			extra := map[string]any{}
			xs, _ := v.Document().Elements()
			for _, x := range xs {
				extra[x.Key()] = x.Value()
			}
			o.SetExtraOptions(extra)
		default:
			return nil, fmt.Errorf("autoEncryptOpts.%s is not supported", e.Key())
		}
	}
	return o, nil
}

// ---- arguments ----

type specArgs struct {
	raw  bson.Raw
	used map[string]bool
}

func newSpecArgs(d bson.Raw) *specArgs {
	if d == nil {
		d = bson.Raw{5, 0, 0, 0, 0}
	}
	return &specArgs{raw: d, used: map[string]bool{}}
}

func (a *specArgs) get(k string) (bson.RawValue, bool) {
	a.used[k] = true
	v, err := a.raw.LookupErr(k)
	return v, err == nil
}

func (a *specArgs) must(k string) (bson.RawValue, error) {
	v, ok := a.get(k)
	if !ok {
		return v, fmt.Errorf("argument %q is missing", k)
	}
	return v, nil
}

// value returns an argument as what the driver marshals as the same BSON: documents and arrays
// stay raw.
func (a *specArgs) value(k string) (any, bool) {
	v, ok := a.get(k)
	if !ok {
		return nil, false
	}
	return specAny(v), true
}

func specAny(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		return v.Document()
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		out := bson.A{}
		for _, x := range vals {
			out = append(out, specAny(x))
		}
		return out
	}
	return v
}

// done refuses arguments the runner did not use: the format requires an error for them.
func (a *specArgs) done() error {
	elems, _ := a.raw.Elements()
	for _, e := range elems {
		if !a.used[e.Key()] {
			return fmt.Errorf("argument %q is not supported by this runner", e.Key())
		}
	}
	return nil
}

func specValue(v any) bson.RawValue {
	if rv, ok := v.(bson.RawValue); ok {
		return rv
	}
	t, data, err := bson.MarshalValue(v)
	if err != nil {
		panic(fmt.Sprintf("marshalling %T: %v", v, err))
	}
	return bson.RawValue{Type: t, Value: data}
}

var specNull = bson.RawValue{Type: bson.TypeNull}

func specDocsValue(docs []bson.Raw) bson.RawValue {
	a := bson.A{}
	for _, d := range docs {
		a = append(a, d)
	}
	return specValue(a)
}

func specCursor(ctx context.Context, cur *mongo.Cursor, err error) (bson.RawValue, bool, error) {
	if err != nil {
		return bson.RawValue{}, true, err
	}
	defer cur.Close(ctx)
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		return bson.RawValue{}, true, err
	}
	return specDocsValue(docs), true, nil
}

func specSingle(sr *mongo.SingleResult) (bson.RawValue, bool, error) {
	raw, err := sr.Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return specNull, false, nil
	}
	if err != nil {
		return bson.RawValue{}, false, err
	}
	return specDocValue(raw), false, nil
}

// ---- operations ----

func (r *specRunner) runOp(ctx context.Context, t *testing.T, c *specCase, op specOp, ents *specEntities) error {
	var res bson.RawValue
	var iterable bool
	var err error
	if op.object == "testRunner" {
		err = r.runSpecial(ctx, op, ents)
	} else {
		res, iterable, err = r.execute(ctx, op, ents)
	}
	if errors.Is(err, errSpecUnsupported) {
		return err
	}
	if op.ignoreResult {
		return nil
	}
	if op.expectError != nil {
		if err == nil {
			return fmt.Errorf("got result %s, want an error %s", specShow(res), op.expectError)
		}
		return specCheckError(op.expectError, err, res, ents)
	}
	if err != nil {
		return fmt.Errorf("unexpected error: %w", err)
	}
	if op.expectResult != nil {
		if err := specMatchResult(*op.expectResult, res, iterable, specMatchMode{saved: ents.saved}); err != nil {
			return err
		}
	}
	if op.saveAs != "" {
		ents.saved[op.saveAs] = res
	}
	return nil
}

var errSpecUnsupported = errors.New("not supported by this runner")

// specCheckError checks an error against an expectedError document.
func specCheckError(want bson.Raw, err error, res bson.RawValue, ents *specEntities) error {
	elems, _ := want.Elements()
	var se mongo.ServerError
	isServer := errors.As(err, &se)
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "isError":
		case "isClientError":
			if v.Boolean() == isServer {
				return fmt.Errorf("error %q: isClientError %v, want %v", err, !isServer, v.Boolean())
			}
		case "isTimeoutError":
			if mongo.IsTimeout(err) != v.Boolean() {
				return fmt.Errorf("error %q: isTimeoutError %v, want %v", err, mongo.IsTimeout(err), v.Boolean())
			}
		case "errorContains":
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(v.StringValue())) {
				return fmt.Errorf("error %q does not contain %q", err, v.StringValue())
			}
		case "errorCode":
			if !isServer || !se.HasErrorCode(int(specInt(v))) {
				return fmt.Errorf("error %q: want server error code %d", err, specInt(v))
			}
		case "errorCodeName":
			var ce mongo.CommandError
			var we mongo.WriteException
			name := ""
			if errors.As(err, &ce) {
				name = ce.Name
			} else if errors.As(err, &we) && we.WriteConcernError != nil {
				name = we.WriteConcernError.Name
			}
			if !strings.EqualFold(name, v.StringValue()) {
				return fmt.Errorf("error %q: code name %q, want %q", err, name, v.StringValue())
			}
		case "errorLabelsContain", "errorLabelsOmit":
			vals, _ := v.Array().Values()
			for _, l := range vals {
				has := isServer && se.HasErrorLabel(l.StringValue())
				if has != (e.Key() == "errorLabelsContain") {
					return fmt.Errorf("error %q: label %q present %v", err, l.StringValue(), has)
				}
			}
		case "expectResult":
			if err := specMatchResult(v, res, false, specMatchMode{saved: ents.saved}); err != nil {
				return fmt.Errorf("result of the error: %w", err)
			}
		default:
			return fmt.Errorf("expectError.%s: %w", e.Key(), errSpecUnsupported)
		}
	}
	return nil
}

// runSpecial runs a testRunner operation.
func (r *specRunner) runSpecial(ctx context.Context, op specOp, ents *specEntities) error {
	a := newSpecArgs(op.args)
	switch op.name {
	case "assertCollectionExists", "assertCollectionNotExists":
		db, _ := a.must("databaseName")
		if v, ok := a.get("database"); ok {
			db = v
		}
		coll, _ := a.must("collectionName")
		if v, ok := a.get("collection"); ok {
			coll = v
		}
		if err := a.done(); err != nil {
			return err
		}
		names, err := r.setup.Database(db.StringValue()).ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll.StringValue()}})
		if err != nil {
			return err
		}
		if (len(names) == 1) != (op.name == "assertCollectionExists") {
			return fmt.Errorf("%s %s.%s: found %v", op.name, db.StringValue(), coll.StringValue(), names)
		}
		return nil
	case "assertIndexExists", "assertIndexNotExists":
		db, _ := a.must("databaseName")
		if v, ok := a.get("database"); ok {
			db = v
		}
		coll, _ := a.must("collectionName")
		if v, ok := a.get("collection"); ok {
			coll = v
		}
		idx, _ := a.must("indexName")
		if v, ok := a.get("index"); ok {
			idx = v
		}
		if err := a.done(); err != nil {
			return err
		}
		specs, err := r.setup.Database(db.StringValue()).Collection(coll.StringValue()).Indexes().ListSpecifications(ctx)
		if err != nil && op.name == "assertIndexExists" {
			return err
		}
		found := false
		for _, s := range specs {
			found = found || s.Name == idx.StringValue()
		}
		if found != (op.name == "assertIndexExists") {
			return fmt.Errorf("%s %s on %s.%s: found %v", op.name, idx.StringValue(), db.StringValue(), coll.StringValue(), found)
		}
		return nil
	case "wait":
		ms, _ := a.must("ms")
		if err := a.done(); err != nil {
			return err
		}
		select {
		case <-time.After(time.Duration(specInt(ms)) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	case "failPoint":
		cl, _ := a.must("client")
		fp, _ := a.must("failPoint")
		if err := a.done(); err != nil {
			return err
		}
		c, ok := ents.clients[cl.StringValue()]
		if !ok {
			return fmt.Errorf("failPoint: no client %s", cl)
		}
		if err := c.c.Database("admin").RunCommand(ctx, fp.Document()).Err(); err != nil {
			return err
		}
		ents.closers = append(ents.closers, func() { r.disableFailPoint(fp.Document()) })
		return nil
	}
	return fmt.Errorf("testRunner.%s: %w", op.name, errSpecUnsupported)
}

// execute runs an entity operation; iterable tells that the result came from a cursor.
func (r *specRunner) execute(ctx context.Context, op specOp, ents *specEntities) (bson.RawValue, bool, error) {
	a := newSpecArgs(op.args)
	if coll, ok := ents.colls[op.object]; ok {
		return specCollectionOp(ctx, coll, op.name, a)
	}
	if db, ok := ents.dbs[op.object]; ok {
		return specDatabaseOp(ctx, db, op.name, a)
	}
	if ce, ok := ents.ces[op.object]; ok {
		return specClientEncryptionOp(ctx, ce, op.name, a)
	}
	if c, ok := ents.clients[op.object]; ok {
		return specClientOp(ctx, c.c, op.name, a)
	}
	return bson.RawValue{}, false, fmt.Errorf("no entity %q", op.object)
}

func specClientOp(ctx context.Context, c *mongo.Client, name string, a *specArgs) (bson.RawValue, bool, error) {
	fail := func(err error) (bson.RawValue, bool, error) { return bson.RawValue{}, false, err }
	if name != "clientBulkWrite" {
		return fail(fmt.Errorf("client.%s: %w", name, errSpecUnsupported))
	}
	models, err := a.must("models")
	if err != nil {
		return fail(err)
	}
	o := options.ClientBulkWrite()
	if v, ok := a.get("ordered"); ok {
		o.SetOrdered(v.Boolean())
	}
	if err := a.done(); err != nil {
		return fail(err)
	}
	vals, err := models.Array().Values()
	if err != nil {
		return fail(err)
	}
	var writes []mongo.ClientBulkWrite
	for _, v := range vals {
		e, err := v.Document().IndexErr(0)
		if err != nil {
			return fail(err)
		}
		ma := newSpecArgs(e.Value().Document())
		ns, err := ma.must("namespace")
		if err != nil {
			return fail(err)
		}
		db, coll, _ := strings.Cut(ns.StringValue(), ".")
		f, _ := ma.value("filter")
		var m mongo.ClientWriteModel
		switch e.Key() {
		case "insertOne":
			d, _ := ma.value("document")
			m = mongo.NewClientInsertOneModel().SetDocument(d)
		case "replaceOne":
			r, _ := ma.value("replacement")
			m = mongo.NewClientReplaceOneModel().SetFilter(f).SetReplacement(r)
		case "updateOne":
			u, _ := ma.value("update")
			m = mongo.NewClientUpdateOneModel().SetFilter(f).SetUpdate(u)
		case "updateMany":
			u, _ := ma.value("update")
			m = mongo.NewClientUpdateManyModel().SetFilter(f).SetUpdate(u)
		case "deleteOne":
			m = mongo.NewClientDeleteOneModel().SetFilter(f)
		case "deleteMany":
			m = mongo.NewClientDeleteManyModel().SetFilter(f)
		default:
			return fail(fmt.Errorf("clientBulkWrite model %s: %w", e.Key(), errSpecUnsupported))
		}
		if err := ma.done(); err != nil {
			return fail(fmt.Errorf("clientBulkWrite %s: %w", e.Key(), err))
		}
		writes = append(writes, mongo.ClientBulkWrite{Database: db, Collection: coll, Model: m})
	}
	res, err := c.BulkWrite(ctx, writes, o)
	if err != nil {
		return fail(err)
	}
	return specValue(bson.D{
		{Key: "insertedCount", Value: res.InsertedCount}, {Key: "upsertedCount", Value: res.UpsertedCount},
		{Key: "matchedCount", Value: res.MatchedCount}, {Key: "modifiedCount", Value: res.ModifiedCount},
		{Key: "deletedCount", Value: res.DeletedCount},
	}), false, nil
}

func specDatabaseOp(ctx context.Context, db *mongo.Database, name string, a *specArgs) (bson.RawValue, bool, error) {
	fail := func(err error) (bson.RawValue, bool, error) { return bson.RawValue{}, false, err }
	switch name {
	case "runCommand":
		cmd, err := a.must("command")
		if err != nil {
			return fail(err)
		}
		a.get("commandName")
		if err := a.done(); err != nil {
			return fail(err)
		}
		raw, err := db.RunCommand(ctx, cmd.Document()).Raw()
		if err != nil {
			return fail(err)
		}
		return specDocValue(raw), false, nil
	case "aggregate":
		p, err := a.must("pipeline")
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		cur, err := db.Aggregate(ctx, specAny(p))
		return specCursor(ctx, cur, err)
	case "createCollection":
		coll, err := a.must("collection")
		if err != nil {
			return fail(err)
		}
		o := options.CreateCollection()
		if v, ok := a.get("encryptedFields"); ok {
			o.SetEncryptedFields(v.Document())
		}
		if v, ok := a.get("validator"); ok {
			o.SetValidator(v.Document())
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		return specNull, false, db.CreateCollection(ctx, coll.StringValue(), o)
	case "dropCollection":
		coll, err := a.must("collection")
		if err != nil {
			return fail(err)
		}
		o := options.DropCollection()
		if v, ok := a.get("encryptedFields"); ok {
			o.SetEncryptedFields(v.Document())
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		return specNull, false, db.Collection(coll.StringValue()).Drop(ctx, o)
	}
	return fail(fmt.Errorf("database.%s: %w", name, errSpecUnsupported))
}

func specUpdateResult(res *mongo.UpdateResult) bson.RawValue {
	d := bson.D{{Key: "matchedCount", Value: res.MatchedCount}, {Key: "modifiedCount", Value: res.ModifiedCount}, {Key: "upsertedCount", Value: res.UpsertedCount}}
	if res.UpsertedID != nil {
		d = append(d, bson.E{Key: "upsertedId", Value: res.UpsertedID})
	}
	return specValue(d)
}

func specBulkResult(res *mongo.BulkWriteResult) bson.RawValue {
	ids := bson.D{}
	for i, id := range res.UpsertedIDs {
		ids = append(ids, bson.E{Key: fmt.Sprint(i), Value: id})
	}
	return specValue(bson.D{
		{Key: "deletedCount", Value: res.DeletedCount}, {Key: "insertedCount", Value: res.InsertedCount},
		{Key: "matchedCount", Value: res.MatchedCount}, {Key: "modifiedCount", Value: res.ModifiedCount},
		{Key: "upsertedCount", Value: res.UpsertedCount}, {Key: "upsertedIds", Value: ids},
	})
}

func specReturnDocument(v bson.RawValue) (options.ReturnDocument, error) {
	switch v.StringValue() {
	case "Before":
		return options.Before, nil
	case "After":
		return options.After, nil
	}
	return 0, fmt.Errorf("returnDocument %s", v)
}

func specCollectionOp(ctx context.Context, coll *mongo.Collection, name string, a *specArgs) (bson.RawValue, bool, error) {
	fail := func(err error) (bson.RawValue, bool, error) { return bson.RawValue{}, false, err }
	filter := func() any {
		if f, ok := a.value("filter"); ok {
			return f
		}
		return bson.D{}
	}
	switch name {
	case "insertOne":
		doc, err := a.must("document")
		if err != nil {
			return fail(err)
		}
		o := options.InsertOne()
		if v, ok := a.get("bypassDocumentValidation"); ok {
			o.SetBypassDocumentValidation(v.Boolean())
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		res, err := coll.InsertOne(ctx, doc.Document(), o)
		if err != nil {
			return fail(err)
		}
		return specValue(bson.D{{Key: "insertedId", Value: res.InsertedID}}), false, nil
	case "insertMany":
		docs, err := a.must("documents")
		if err != nil {
			return fail(err)
		}
		o := options.InsertMany()
		if v, ok := a.get("ordered"); ok {
			o.SetOrdered(v.Boolean())
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		res, err := coll.InsertMany(ctx, specAny(docs), o)
		if err != nil {
			return fail(err)
		}
		ids := bson.D{}
		for i, id := range res.InsertedIDs {
			ids = append(ids, bson.E{Key: fmt.Sprint(i), Value: id})
		}
		return specValue(bson.D{{Key: "insertedIds", Value: ids}}), false, nil
	case "find", "findOne":
		f := filter()
		o := options.Find()
		if v, ok := a.value("sort"); ok {
			o.SetSort(v)
		}
		if v, ok := a.value("projection"); ok {
			o.SetProjection(v)
		}
		if v, ok := a.get("limit"); ok {
			o.SetLimit(specInt(v))
		}
		if v, ok := a.get("skip"); ok {
			o.SetSkip(specInt(v))
		}
		if v, ok := a.get("batchSize"); ok {
			o.SetBatchSize(int32(specInt(v)))
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		if name == "findOne" {
			o.SetLimit(1)
			cur, err := coll.Find(ctx, f, o)
			res, _, err := specCursor(ctx, cur, err)
			if err != nil {
				return fail(err)
			}
			vals, _ := res.Array().Values()
			if len(vals) == 0 {
				return specNull, false, nil
			}
			return vals[0], false, nil
		}
		cur, err := coll.Find(ctx, f, o)
		return specCursor(ctx, cur, err)
	case "aggregate":
		p, err := a.must("pipeline")
		if err != nil {
			return fail(err)
		}
		o := options.Aggregate()
		if v, ok := a.get("batchSize"); ok {
			o.SetBatchSize(int32(specInt(v)))
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		cur, err := coll.Aggregate(ctx, specAny(p), o)
		return specCursor(ctx, cur, err)
	case "count":
		// The legacy count helper: the count command with a query.
		f := filter()
		if err := a.done(); err != nil {
			return fail(err)
		}
		raw, err := coll.Database().RunCommand(ctx, bson.D{{Key: "count", Value: coll.Name()}, {Key: "query", Value: f}}).Raw()
		if err != nil {
			return fail(err)
		}
		return raw.Lookup("n"), false, nil
	case "countDocuments":
		f := filter()
		if err := a.done(); err != nil {
			return fail(err)
		}
		n, err := coll.CountDocuments(ctx, f)
		if err != nil {
			return fail(err)
		}
		return specValue(n), false, nil
	case "distinct":
		field, err := a.must("fieldName")
		if err != nil {
			return fail(err)
		}
		f := filter()
		if err := a.done(); err != nil {
			return fail(err)
		}
		arr, err := coll.Distinct(ctx, field.StringValue(), f).Raw()
		if err != nil {
			return fail(err)
		}
		return bson.RawValue{Type: bson.TypeArray, Value: arr}, false, nil
	case "deleteOne", "deleteMany":
		f := filter()
		if err := a.done(); err != nil {
			return fail(err)
		}
		var res *mongo.DeleteResult
		var err error
		if name == "deleteOne" {
			res, err = coll.DeleteOne(ctx, f)
		} else {
			res, err = coll.DeleteMany(ctx, f)
		}
		if err != nil {
			return fail(err)
		}
		return specValue(bson.D{{Key: "deletedCount", Value: res.DeletedCount}}), false, nil
	case "updateOne", "updateMany", "replaceOne":
		f := filter()
		key := "update"
		if name == "replaceOne" {
			key = "replacement"
		}
		u, ok := a.value(key)
		if !ok {
			return fail(fmt.Errorf("argument %q is missing", key))
		}
		var upsert *bool
		if v, ok := a.get("upsert"); ok {
			b := v.Boolean()
			upsert = &b
		}
		var arrayFilters []any
		if v, ok := a.get("arrayFilters"); ok {
			arrayFilters = specAny(v).(bson.A)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		var res *mongo.UpdateResult
		var err error
		switch name {
		case "updateOne":
			o := options.UpdateOne()
			if upsert != nil {
				o.SetUpsert(*upsert)
			}
			if arrayFilters != nil {
				o.SetArrayFilters(arrayFilters)
			}
			res, err = coll.UpdateOne(ctx, f, u, o)
		case "updateMany":
			o := options.UpdateMany()
			if upsert != nil {
				o.SetUpsert(*upsert)
			}
			if arrayFilters != nil {
				o.SetArrayFilters(arrayFilters)
			}
			res, err = coll.UpdateMany(ctx, f, u, o)
		default:
			o := options.Replace()
			if upsert != nil {
				o.SetUpsert(*upsert)
			}
			res, err = coll.ReplaceOne(ctx, f, u, o)
		}
		if err != nil {
			return fail(err)
		}
		return specUpdateResult(res), false, nil
	case "findOneAndDelete":
		f := filter()
		o := options.FindOneAndDelete()
		if v, ok := a.value("sort"); ok {
			o.SetSort(v)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		return specSingle(coll.FindOneAndDelete(ctx, f, o))
	case "findOneAndReplace", "findOneAndUpdate":
		f := filter()
		key := "update"
		if name == "findOneAndReplace" {
			key = "replacement"
		}
		u, ok := a.value(key)
		if !ok {
			return fail(fmt.Errorf("argument %q is missing", key))
		}
		var rd *options.ReturnDocument
		if v, ok := a.get("returnDocument"); ok {
			x, err := specReturnDocument(v)
			if err != nil {
				return fail(err)
			}
			rd = &x
		}
		var upsert *bool
		if v, ok := a.get("upsert"); ok {
			b := v.Boolean()
			upsert = &b
		}
		sort, hasSort := a.value("sort")
		if err := a.done(); err != nil {
			return fail(err)
		}
		if name == "findOneAndReplace" {
			o := options.FindOneAndReplace()
			if rd != nil {
				o.SetReturnDocument(*rd)
			}
			if upsert != nil {
				o.SetUpsert(*upsert)
			}
			if hasSort {
				o.SetSort(sort)
			}
			return specSingle(coll.FindOneAndReplace(ctx, f, u, o))
		}
		o := options.FindOneAndUpdate()
		if rd != nil {
			o.SetReturnDocument(*rd)
		}
		if upsert != nil {
			o.SetUpsert(*upsert)
		}
		if hasSort {
			o.SetSort(sort)
		}
		return specSingle(coll.FindOneAndUpdate(ctx, f, u, o))
	case "bulkWrite":
		reqs, err := a.must("requests")
		if err != nil {
			return fail(err)
		}
		o := options.BulkWrite()
		if v, ok := a.get("ordered"); ok {
			o.SetOrdered(v.Boolean())
		}
		if v, ok := a.get("options"); ok { // legacy: options.ordered
			if ord, ok := v.Document().Lookup("ordered").BooleanOK(); ok {
				o.SetOrdered(ord)
			}
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		models, err := specWriteModels(reqs.Array())
		if err != nil {
			return fail(err)
		}
		res, err := coll.BulkWrite(ctx, models, o)
		if err != nil {
			return fail(err)
		}
		return specBulkResult(res), false, nil
	case "createIndex":
		keys, err := a.must("keys")
		if err != nil {
			return fail(err)
		}
		io := options.Index()
		if v, ok := a.get("name"); ok {
			io.SetName(v.StringValue())
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		n, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys.Document(), Options: io})
		if err != nil {
			return fail(err)
		}
		return specValue(n), false, nil
	case "mapReduce":
		// The driver has no mapReduce helper: send the command the helper of other drivers sends.
		m, err := a.must("map")
		if err != nil {
			return fail(err)
		}
		red, err := a.must("reduce")
		if err != nil {
			return fail(err)
		}
		out, err := a.must("out")
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		raw, err := coll.Database().RunCommand(ctx, bson.D{{Key: "mapReduce", Value: coll.Name()}, {Key: "map", Value: m}, {Key: "reduce", Value: red}, {Key: "out", Value: out}}).Raw()
		if err != nil {
			return fail(err)
		}
		return specDocValue(raw), false, nil
	}
	return fail(fmt.Errorf("collection.%s: %w", name, errSpecUnsupported))
}

// specWriteModels reads bulkWrite requests in the legacy ({name, arguments}) and unified
// ({insertOne: {...}}) forms.
func specWriteModels(reqs bson.RawArray) ([]mongo.WriteModel, error) {
	vals, err := reqs.Values()
	if err != nil {
		return nil, err
	}
	var models []mongo.WriteModel
	for _, v := range vals {
		d := v.Document()
		var name string
		var args bson.Raw
		if n, ok := d.Lookup("name").StringValueOK(); ok {
			name, args = n, d.Lookup("arguments").Document()
		} else {
			e, err := d.IndexErr(0)
			if err != nil {
				return nil, err
			}
			name, args = e.Key(), e.Value().Document()
		}
		a := newSpecArgs(args)
		f, _ := a.value("filter")
		switch name {
		case "insertOne":
			doc, _ := a.value("document")
			models = append(models, mongo.NewInsertOneModel().SetDocument(doc))
		case "updateOne":
			u, _ := a.value("update")
			models = append(models, mongo.NewUpdateOneModel().SetFilter(f).SetUpdate(u))
		case "updateMany":
			u, _ := a.value("update")
			models = append(models, mongo.NewUpdateManyModel().SetFilter(f).SetUpdate(u))
		case "replaceOne":
			u, _ := a.value("replacement")
			models = append(models, mongo.NewReplaceOneModel().SetFilter(f).SetReplacement(u))
		case "deleteOne":
			models = append(models, mongo.NewDeleteOneModel().SetFilter(f))
		case "deleteMany":
			models = append(models, mongo.NewDeleteManyModel().SetFilter(f))
		default:
			return nil, fmt.Errorf("bulkWrite request %s: %w", name, errSpecUnsupported)
		}
		if err := a.done(); err != nil {
			return nil, fmt.Errorf("bulkWrite %s: %w", name, err)
		}
	}
	return models, nil
}

func specClientEncryptionOp(ctx context.Context, ce *ClientEncryption, name string, a *specArgs) (bson.RawValue, bool, error) {
	fail := func(err error) (bson.RawValue, bool, error) { return bson.RawValue{}, false, err }
	id := func() (bson.Binary, error) {
		v, err := a.must("id")
		if err != nil {
			return bson.Binary{}, err
		}
		st, data, ok := v.BinaryOK()
		if !ok {
			return bson.Binary{}, fmt.Errorf("id %s is not binary", v)
		}
		return bson.Binary{Subtype: st, Data: data}, nil
	}
	switch name {
	case "createDataKey":
		prov, err := a.must("kmsProvider")
		if err != nil {
			return fail(err)
		}
		o := options.DataKey()
		if v, ok := a.get("opts"); ok {
			oa := newSpecArgs(v.Document())
			if mk, ok := oa.get("masterKey"); ok {
				o.SetMasterKey(mk.Document())
			}
			if ka, ok := oa.get("keyAltNames"); ok {
				var names []string
				vals, _ := ka.Array().Values()
				for _, n := range vals {
					names = append(names, n.StringValue())
				}
				o.SetKeyAltNames(names)
			}
			if km, ok := oa.get("keyMaterial"); ok {
				_, data, _ := km.BinaryOK()
				o.SetKeyMaterial(data)
			}
			if err := oa.done(); err != nil {
				return fail(err)
			}
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		b, err := ce.CreateDataKey(ctx, prov.StringValue(), o)
		if err != nil {
			return fail(err)
		}
		return specValue(b), false, nil
	case "rewrapManyDataKey":
		f, _ := a.value("filter")
		o := options.RewrapManyDataKey()
		if v, ok := a.get("opts"); ok {
			oa := newSpecArgs(v.Document())
			if p, ok := oa.get("provider"); ok {
				o.SetProvider(p.StringValue())
			}
			if mk, ok := oa.get("masterKey"); ok {
				o.SetMasterKey(mk.Document())
			}
			if err := oa.done(); err != nil {
				return fail(err)
			}
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		res, err := ce.RewrapManyDataKey(ctx, f, o)
		if err != nil {
			return fail(err)
		}
		d := bson.D{}
		if res != nil && res.BulkWriteResult != nil {
			d = append(d, bson.E{Key: "bulkWriteResult", Value: specBulkResult(res.BulkWriteResult)})
		}
		return specValue(d), false, nil
	case "getKey", "deleteKey":
		b, err := id()
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		if name == "getKey" {
			return specSingle(ce.GetKey(ctx, b))
		}
		res, err := ce.DeleteKey(ctx, b)
		if err != nil {
			return fail(err)
		}
		return specValue(bson.D{{Key: "deletedCount", Value: res.DeletedCount}}), false, nil
	case "getKeys":
		if err := a.done(); err != nil {
			return fail(err)
		}
		cur, err := ce.GetKeys(ctx)
		return specCursor(ctx, cur, err)
	case "getKeyByAltName":
		n, err := a.must("keyAltName")
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		return specSingle(ce.GetKeyByAltName(ctx, n.StringValue()))
	case "addKeyAltName", "removeKeyAltName":
		b, err := id()
		if err != nil {
			return fail(err)
		}
		n, err := a.must("keyAltName")
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		if name == "addKeyAltName" {
			return specSingle(ce.AddKeyAltName(ctx, b, n.StringValue()))
		}
		return specSingle(ce.RemoveKeyAltName(ctx, b, n.StringValue()))
	case "encrypt":
		v, err := a.must("value")
		if err != nil {
			return fail(err)
		}
		o := options.Encrypt()
		if ov, ok := a.get("opts"); ok {
			oa := newSpecArgs(ov.Document())
			if x, ok := oa.get("keyId"); ok {
				st, data, _ := x.BinaryOK()
				o.SetKeyID(bson.Binary{Subtype: st, Data: data})
			}
			if x, ok := oa.get("keyAltName"); ok {
				o.SetKeyAltName(x.StringValue())
			}
			if x, ok := oa.get("algorithm"); ok {
				o.SetAlgorithm(x.StringValue())
			}
			if x, ok := oa.get("contentionFactor"); ok {
				o.SetContentionFactor(specInt(x))
			}
			if x, ok := oa.get("queryType"); ok {
				o.SetQueryType(x.StringValue())
			}
			if err := oa.done(); err != nil {
				return fail(err)
			}
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		b, err := ce.Encrypt(ctx, v, o)
		if err != nil {
			return fail(err)
		}
		return specValue(b), false, nil
	case "decrypt":
		v, err := a.must("value")
		if err != nil {
			return fail(err)
		}
		if err := a.done(); err != nil {
			return fail(err)
		}
		st, data, ok := v.BinaryOK()
		if !ok {
			return fail(fmt.Errorf("decrypt: value %s is not binary", v))
		}
		out, err := ce.Decrypt(ctx, bson.Binary{Subtype: st, Data: data})
		if err != nil {
			return fail(err)
		}
		return out, false, nil
	}
	return fail(fmt.Errorf("clientEncryption.%s: %w", name, errSpecUnsupported))
}
