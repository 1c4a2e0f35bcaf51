package proxy_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BenchmarkProxy measures insert and find throughput (8 goroutines per core, one client each
// side) through the proxy, with two encrypted fields (deterministic ssn, random secret), next to
// the same plain client connected directly to the server with the same documents unencrypted.
// bench/proxy/run.sh prints the ratio.
func BenchmarkProxy(b *testing.B) {
	e := newEnv(b)
	direct, err := mongo.Connect(options.Client().ApplyURI(serverURI))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Disconnect(b.Context())
	proxied := e.client(b)
	sides := []struct {
		name string
		coll *mongo.Collection
	}{
		{"direct", direct.Database(e.db).Collection("plain")},
		{"proxy", proxied.Database(e.db).Collection("people")},
	}
	doc := func(id int64) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "name", Value: "bench"},
			{Key: "ssn", Value: fmt.Sprintf("BENCH-SSN-%09d", id)}, {Key: "secret", Value: "BENCH-SECRET-VALUE"}}
	}
	const preloaded = 1000
	for _, side := range sides {
		docs := make([]any, preloaded)
		for i := range docs {
			docs[i] = doc(int64(i))
		}
		if _, err := side.coll.InsertMany(b.Context(), docs); err != nil {
			b.Fatal(err)
		}
	}
	for _, side := range sides {
		var next atomic.Int64
		b.Run("find/"+side.name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := next.Add(1) % preloaded
					var got struct {
						SSN string `bson:"ssn"`
					}
					if err := side.coll.FindOne(b.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&got); err != nil {
						b.Error(err)
						return
					}
					if got.SSN != fmt.Sprintf("BENCH-SSN-%09d", id) {
						b.Errorf("read %q for %d", got.SSN, id)
						return
					}
				}
			})
		})
	}
	for _, side := range sides {
		var next atomic.Int64
		next.Store(1 << 20)
		b.Run("insert/"+side.name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := side.coll.InsertOne(b.Context(), doc(next.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
