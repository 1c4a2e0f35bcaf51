// The data keys of an operation, in four steps: the request (keyRequest: the key ids and
// keyAltNames the operation names), the cache (what the engine's cache holds is served from it),
// the key vault fetch (one query for all the missing keys) and the KMS unwrap (each fetched key
// decrypted by its provider, concurrently, then cached). The answer is a keySet. Making and
// managing key documents (CreateDataKey, keyAltNames, RewrapManyDataKey) is in
// clientencryption.go.

package mongocrypt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/keyvault"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// dataKey is a decrypted data key, ready to use.
type dataKey struct {
	id   [16]byte
	raw  []byte // the 96 bytes; QE derives its tokens from them
	fle1 *aead.FLE1
}

func newDataKey(id [16]byte, raw []byte) (*dataKey, error) {
	c, err := aead.NewFLE1(raw)
	if err != nil {
		return nil, &Error{Code: CodeCrypto, Err: err}
	}
	return &dataKey{id: id, raw: raw, fle1: c}, nil
}

// keyRequest names the data keys an operation needs.
type keyRequest struct {
	ids map[[16]byte]struct{}
	// order is the ids in the order they were first added: the key vault query lists them so,
	// as libmongocrypt does, whatever the map's order.
	order     [][16]byte
	names     map[string]struct{}
	nameOrder []string // the names in the order they were first added
	// last is the id added last: documents tend to use one key for many fields.
	last    [16]byte
	hasLast bool
	// docNames tells that the names are values of documents (the keyAltNames that JSON schema
	// keyId pointers read): the errors do not quote them.
	docNames bool
}

func (r *keyRequest) addID(id [16]byte) {
	if r.hasLast && r.last == id {
		return
	}
	if r.ids == nil {
		r.ids = map[[16]byte]struct{}{}
	}
	if _, dup := r.ids[id]; !dup {
		r.ids[id] = struct{}{}
		r.order = append(r.order, id)
	}
	r.last, r.hasLast = id, true
}

func (r *keyRequest) addName(n string) {
	if r.names == nil {
		r.names = map[string]struct{}{}
	}
	if _, dup := r.names[n]; !dup {
		r.names[n] = struct{}{}
		r.nameOrder = append(r.nameOrder, n)
	}
}

// has tells whether the key document k answers r: its _id or one of its keyAltNames was asked
// for.
func (r *keyRequest) has(k *keyvault.Key) bool {
	if _, ok := r.ids[k.ID]; ok {
		return true
	}
	for _, n := range k.KeyAltNames {
		if _, ok := r.names[n]; ok {
			return true
		}
	}
	return false
}

// keySet is the answer to a keyRequest. It serves one operation, in one goroutine.
type keySet struct {
	byID   map[[16]byte]*dataKey
	byName map[string]*dataKey
	last   *dataKey // the key found last
}

func (s *keySet) id(id [16]byte) (*dataKey, error) {
	if s.last != nil && s.last.id == id {
		return s.last, nil
	}
	if k, ok := s.byID[id]; ok {
		s.last = k
		return k, nil
	}
	return nil, &Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: key id %s", ErrKeyNotFound, uuidString(id))}
}

// material is the qe.KeyFunc of a key set.
func (s *keySet) material(id qe.KeyID) ([]byte, error) {
	k, err := s.id(id)
	if err != nil {
		return nil, err
	}
	return k.raw, nil
}

// keysByID fetches the keys with the given ids.
func (e *engine) keysByID(ctx context.Context, ids []qe.KeyID) (*keySet, error) {
	var req keyRequest
	for _, id := range ids {
		req.addID(id)
	}
	return e.keys(ctx, req)
}

// keys returns every requested key: from the cache, else from one key vault query for all the
// missing ones, unwrapped by their KMS providers concurrently; a missing key another operation
// is fetching at the moment is waited for instead.
func (e *engine) keys(ctx context.Context, req keyRequest) (*keySet, error) {
	ks := &keySet{byID: make(map[[16]byte]*dataKey, len(req.ids)), byName: map[string]*dataKey{}}
	var missIDs [][16]byte
	var missNames []string
	debug := e.log.on(ctx, slog.LevelDebug)
	for _, id := range req.order {
		if k, ok := e.cache.Get(id); ok {
			ks.byID[id] = k
			if debug {
				e.log.l.LogAttrs(ctx, slog.LevelDebug, "key cache hit", keyIDAttr(id))
			}
		} else {
			missIDs = append(missIDs, id)
			if debug {
				e.log.l.LogAttrs(ctx, slog.LevelDebug, "key cache miss", keyIDAttr(id))
			}
		}
	}
	for _, n := range req.nameOrder {
		// keyAltNames are the application's names (often of people): they are not logged.
		if k, id, ok := e.cache.GetByName(n); ok {
			ks.byName[n] = k
			if debug {
				e.log.l.LogAttrs(ctx, slog.LevelDebug, "key cache hit", keyIDAttr(id), slog.String("by", "keyAltName"))
			}
		} else {
			missNames = append(missNames, n)
			if debug {
				e.log.l.LogAttrs(ctx, slog.LevelDebug, "key cache miss", slog.String("by", "keyAltName"))
			}
		}
	}
	if len(missIDs) == 0 && len(missNames) == 0 {
		return ks, nil
	}
	// Coalescing: a missing key that another operation is fetching now is waited for, not
	// fetched again, so that many goroutines that need the same missing key cause one key vault
	// query and one KMS request. This operation's own fetches are released before it waits
	// (two operations may each wait for a key the other fetches).
	mine, waits := e.flights.claim(missIDs)
	err := e.fetchMissing(ctx, req.docNames, ks, mine, missNames)
	e.flights.release(mine)
	if err != nil {
		return nil, err
	}
	var retry [][16]byte
	for _, w := range waits {
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: ctx.Err()}}
		}
		if k, ok := e.cache.Get(w.id); ok {
			ks.byID[w.id] = k
		} else {
			// The other fetch failed (or the key expired at once): this operation asks itself.
			retry = append(retry, w.id)
		}
	}
	if err := e.fetchMissing(ctx, req.docNames, ks, retry, nil); err != nil {
		return nil, err
	}
	return ks, nil
}

// fetchMissing queries the key vault once for the missing ids and names, unwraps what it
// returns, caches it and adds it to ks; every missing id and name must be answered. docNames
// is keyRequest.docNames: the names are not quoted in errors.
func (e *engine) fetchMissing(ctx context.Context, docNames bool, ks *keySet, missIDs [][16]byte, missNames []string) error {
	if len(missIDs) == 0 && len(missNames) == 0 {
		return nil
	}
	// wanted is what the key vault may answer with.
	wanted := keyRequest{docNames: docNames}
	ids := make(bson.A, len(missIDs))
	for i, id := range missIDs {
		wanted.addID(id)
		ids[i] = bson.Binary{Subtype: 4, Data: append([]byte(nil), id[:]...)}
	}
	for _, n := range missNames {
		wanted.addName(n)
	}
	debug := e.log.on(ctx, slog.LevelDebug)
	// libmongocrypt's filter, both clauses always present: {$or: [{_id: {$in: [ids]}},
	// {keyAltNames: {$in: [names]}}]}.
	names := make(bson.A, len(missNames))
	for i, n := range missNames {
		names[i] = n
	}
	or := bson.A{
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		bson.D{{Key: "keyAltNames", Value: bson.D{{Key: "$in", Value: names}}}},
	}
	find := e.findKeys
	if e.findKeysHook != nil {
		find = e.findKeysHook
	}
	start := time.Now()
	docs, err := find(ctx, bson.D{{Key: "$or", Value: or}})
	if debug {
		attrs := []slog.Attr{keyIDsAttr("key_ids", ids), slog.Int("key_alt_names", len(missNames)),
			slog.Int("found", len(docs)), durationSince(start)}
		if err != nil {
			attrs = append(attrs, errAttr(err))
		}
		e.log.l.LogAttrs(ctx, slog.LevelDebug, "key vault find", attrs...)
	}
	if err != nil {
		return err
	}
	parsed := make([]*keyvault.Key, 0, len(docs))
	for _, d := range docs {
		k, err := parseKeyDoc(d)
		if err != nil {
			return err
		}
		if !wanted.has(k) {
			// libmongocrypt refuses it too: a key nobody asked for is neither unwrapped (no KMS
			// request) nor cached.
			return &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find",
				Err: fmt.Errorf("unexpected key returned: the key vault answered with key id %s, which was not requested", uuidString(k.ID))}}
		}
		parsed = append(parsed, k)
	}
	unwrapped, err := e.unwrapAll(ctx, parsed)
	if err != nil {
		return err
	}
	nameOwner := map[string][16]byte{}
	for i, k := range parsed {
		dk := unwrapped[i]
		ks.byID[k.ID] = dk
		for _, n := range k.KeyAltNames {
			if prev, dup := nameOwner[n]; dup && prev != k.ID {
				if docNames {
					return clientErr("a keyAltName names more than one key (%s and %s); a keyAltName read from a document is not shown", uuidString(prev), uuidString(k.ID))
				}
				return clientErr("keyAltName %q names more than one key (%s and %s)", n, uuidString(prev), uuidString(k.ID))
			}
			nameOwner[n] = k.ID
			ks.byName[n] = dk
		}
		e.cache.Put(k.ID, k.KeyAltNames, dk)
	}
	for _, id := range missIDs {
		if _, ok := ks.byID[id]; !ok {
			return &Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: key id %s", ErrKeyNotFound, uuidString(id))}
		}
	}
	for _, n := range missNames {
		if _, ok := ks.byName[n]; !ok {
			if docNames {
				return &Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: the keyAltName that a JSON schema keyId pointer read from the document (not shown)", ErrKeyNotFound)}
			}
			return &Error{Code: CodeKeyVault, Err: fmt.Errorf("%w: keyAltName %q", ErrKeyNotFound, n)}
		}
	}
	return nil
}

func (e *engine) findKeys(ctx context.Context, filter any) ([]bson.Raw, error) {
	cur, err := e.keyVault.Find(ctx, filter)
	if err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: err}}
	}
	defer cur.Close(ctx)
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: err}}
	}
	return docs, nil
}

// maxKMSConcurrency bounds the KMS requests in flight for one operation.
const maxKMSConcurrency = 16

// forEachKey runs fn(i) for i in [0, n), at most maxKMSConcurrency at a time (one inline when
// n is 1). One failure is returned as it is; several are joined in an *Error with the code of
// the first.
func forEachKey(n int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	errs := make([]error, n)
	sem := make(chan struct{}, maxKMSConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return failed[0]
	}
	return &Error{Code: codeOf(failed[0]), Message: fmt.Sprintf("%d of %d keys failed", len(failed), n), Err: errors.Join(failed...)}
}

// unwrapAll decrypts the key material of every key with its KMS provider, concurrently.
func (e *engine) unwrapAll(ctx context.Context, keys []*keyvault.Key) ([]*dataKey, error) {
	out := make([]*dataKey, len(keys))
	err := forEachKey(len(keys), func(i int) (err error) {
		out[i], err = e.unwrap(ctx, keys[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *engine) unwrap(ctx context.Context, k *keyvault.Key) (*dataKey, error) {
	p, err := e.kms.Get(k.Provider)
	if err != nil {
		return nil, &Error{Code: CodeKMS, Message: "key " + uuidString(k.ID), Err: err}
	}
	start := time.Now()
	raw, err := p.Unwrap(ctx, k.MasterKey, k.KeyMaterial)
	e.log.kms(ctx, "KMS decrypt", k.ID, k.Provider, start, err)
	if err != nil {
		return nil, wrapKMS(err)
	}
	return newDataKey(k.ID, raw)
}

// parseKeyDoc parses a key document of the key vault.
func parseKeyDoc(doc bson.Raw) (*keyvault.Key, error) {
	k, err := keyvault.ParseKey(doc)
	if err != nil {
		return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "parse", Err: err}}
	}
	return k, nil
}

// uuidString formats a UUID as 8-4-4-4-12 hex digits.
func uuidString(id [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
}

// uuidFromBinary checks that b is a UUID (binary subtype 4 of 16 bytes).
func uuidFromBinary(b bson.Binary, what string) ([16]byte, error) {
	var id [16]byte
	if b.Subtype != 4 || len(b.Data) != 16 {
		return id, clientErr("%s must be a UUID (binary subtype 4, 16 bytes), got subtype %d with %d bytes", what, b.Subtype, len(b.Data))
	}
	copy(id[:], b.Data)
	return id, nil
}

// keyFlights are the key ids being fetched now, each with a channel closed when its fetch ends.
type keyFlights struct {
	mu sync.Mutex
	m  map[[16]byte]chan struct{}
}

// keyWait is a key fetched by another operation.
type keyWait struct {
	id   [16]byte
	done <-chan struct{}
}

// claim registers the ids that nobody fetches yet as this operation's (returned as mine) and
// returns the others to wait for.
func (f *keyFlights) claim(ids [][16]byte) (mine [][16]byte, waits []keyWait) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[[16]byte]chan struct{}{}
	}
	for _, id := range ids {
		if ch, ok := f.m[id]; ok {
			waits = append(waits, keyWait{id: id, done: ch})
			continue
		}
		f.m[id] = make(chan struct{})
		mine = append(mine, id)
	}
	return mine, waits
}

// release ends this operation's fetches of ids: their waiters look in the cache.
func (f *keyFlights) release(ids [][16]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if ch, ok := f.m[id]; ok {
			close(ch)
			delete(f.m, id)
		}
	}
}
