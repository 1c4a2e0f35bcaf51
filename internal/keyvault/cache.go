package keyvault

import (
	"sync"
	"time"
)

// DefaultExpiration is how long a decrypted data key stays cached unless configured otherwise
// (keyExpirationMS of the specification).
const DefaultExpiration = 60 * time.Second

// Cache holds decrypted data keys by id and by keyAltName, each for a fixed time after it was
// fetched. A zero expiration keeps entries forever. It is safe for concurrent use.
//
// V is the cached value: the root package caches its ready-to-use ciphers.
type Cache[V any] struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.RWMutex
	byID  map[[16]byte]entry[V]
	names map[string]nameEntry
	// sweepAt is the number of entries at which the next sweep of expired entries runs.
	sweepAt int
}

type entry[V any] struct {
	v       V
	expires time.Time // zero: never
}

type nameEntry struct {
	id      [16]byte
	expires time.Time
}

// NewCache returns a cache whose entries expire ttl after they are put (never when ttl is 0).
func NewCache[V any](ttl time.Duration) *Cache[V] {
	return &Cache[V]{ttl: ttl, now: time.Now, byID: map[[16]byte]entry[V]{}, names: map[string]nameEntry{}, sweepAt: minSweep}
}

func (c *Cache[V]) expiry() time.Time {
	if c.ttl == 0 {
		return time.Time{}
	}
	return c.now().Add(c.ttl)
}

func (c *Cache[V]) live(exp time.Time) bool {
	return exp.IsZero() || c.now().Before(exp)
}

// Get returns the cached value for id.
func (c *Cache[V]) Get(id [16]byte) (V, bool) {
	c.mu.RLock()
	e, ok := c.byID[id]
	c.mu.RUnlock()
	if !ok || !c.live(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// GetByName returns the cached value for a keyAltName.
func (c *Cache[V]) GetByName(name string) (V, [16]byte, bool) {
	c.mu.RLock()
	n, ok := c.names[name]
	var e entry[V]
	if ok {
		e, ok = c.byID[n.id]
	}
	c.mu.RUnlock()
	if !ok || !c.live(n.expires) || !c.live(e.expires) {
		var zero V
		return zero, [16]byte{}, false
	}
	return e.v, n.id, true
}

// Put caches v for id and for each of its keyAltNames.
func (c *Cache[V]) Put(id [16]byte, names []string, v V) {
	exp := c.expiry()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byID[id] = entry[V]{v: v, expires: exp}
	for _, n := range names {
		c.names[n] = nameEntry{id: id, expires: exp}
	}
	c.sweepLocked()
}

// Evict forgets a key and every name that points to it.
func (c *Cache[V]) Evict(id [16]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
	for n, e := range c.names {
		if e.id == id {
			delete(c.names, n)
		}
	}
}

// EvictName forgets a keyAltName.
func (c *Cache[V]) EvictName(name string) {
	c.mu.Lock()
	delete(c.names, name)
	c.mu.Unlock()
}

// minSweep is the size below which expired entries are left in place.
const minSweep = 256

// sweepLocked drops expired entries each time the maps have doubled since the last sweep, so
// that a long-lived process does not keep every key it ever used, at an amortized constant cost.
func (c *Cache[V]) sweepLocked() {
	if c.ttl == 0 || len(c.byID)+len(c.names) < c.sweepAt {
		return
	}
	defer func() { c.sweepAt = max(minSweep, 2*(len(c.byID)+len(c.names))) }()
	for id, e := range c.byID {
		if !c.live(e.expires) {
			delete(c.byID, id)
		}
	}
	for n, e := range c.names {
		if !c.live(e.expires) {
			delete(c.names, n)
		}
	}
}
