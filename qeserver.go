// The server side of Queryable Encryption, seen from the client: a server that does not do it
// must never leave a Queryable Encryption collection storing plaintext, and its refusal must say
// what it means.

package mongocrypt

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// ErrQueryableEncryptionUnsupported is in the chain of the errors that say the server does not do
// the server side of Queryable Encryption: [ClientEncryption.CreateEncryptedCollection] when the
// server did not keep the collection's encryptedFields, and automatic encryption when the server
// refuses the encryptionInformation of a command. The server's own error, a mongo.CommandError,
// is in the chain too when there is one.
var ErrQueryableEncryptionUnsupported = errors.New("the server does not support Queryable Encryption")

// qeUnsupportedError is ErrQueryableEncryptionUnsupported with what the server did and, if it
// answered with an error, that error.
type qeUnsupportedError struct {
	what   string
	server error // nil when the server answered without an error
}

func (e *qeUnsupportedError) Error() string {
	s := ErrQueryableEncryptionUnsupported.Error() + ": " + e.what
	if e.server != nil {
		s += ": " + e.server.Error()
	}
	return s
}

func (e *qeUnsupportedError) Unwrap() []error {
	if e.server == nil {
		return []error{ErrQueryableEncryptionUnsupported}
	}
	return []error{ErrQueryableEncryptionUnsupported, e.server}
}

// checkEncryptedFieldsKept reads the options of db.coll back after it was created with
// encryptedFields. A server without Queryable Encryption (FerretDB, for one) accepts the create
// and drops encryptedFields; clients whose schema comes from the server would then write every
// field in plaintext. The collection and its state collections, just created, are dropped again.
func checkEncryptedFieldsKept(ctx context.Context, db *mongo.Database, coll string, ef bson.Raw) error {
	specs, err := db.ListCollectionSpecifications(ctx, bson.D{{Key: "name", Value: coll}})
	if err != nil {
		return withMessage(err, "reading back the options of "+db.Name()+"."+coll)
	}
	if len(specs) == 1 {
		if _, err := specs[0].Options.LookupErr("encryptedFields"); err == nil {
			return nil
		}
	}
	esc, ecoc := stateCollections(coll, ef)
	var dropErrs []error
	for _, name := range []string{coll, esc, ecoc} {
		if err := db.Collection(name).Drop(ctx); err != nil {
			dropErrs = append(dropErrs, err)
		}
	}
	what := "it did not keep the encryptedFields of " + db.Name() + "." + coll +
		" (listCollections shows none), so clients reading the schema from the server would store plaintext; "
	if len(dropErrs) == 0 {
		what += "the collection and its state collections were dropped again"
	} else {
		what += "dropping the collection and its state collections again failed, drop them by hand"
	}
	return &Error{Code: CodeClient, Err: &qeUnsupportedError{what: what, server: errors.Join(dropErrs...)}}
}

// qeProbe asks the server once whether it takes encryptionInformation, before the first command
// that carries it. The Go driver hands a Crypt no failed reply, so the driver's error for a
// refused insert could not be reworded afterwards; the probe is a find of at most one _id with
// the same encryptionInformation, run by the internal client. Its command events are not
// reported to the command monitor of the client options (probeCtx marks them), so monitored
// command sequences stay those of the driver.
type qeProbe struct {
	mu   sync.Mutex
	done bool
	err  error // the answer, once done
}

type probeKey struct{}

// probeCtx marks a context whose commands the internal client's monitor does not report.
func probeCtx(ctx context.Context) context.Context { return context.WithValue(ctx, probeKey{}, true) }

func isProbe(ctx context.Context) bool { v, _ := ctx.Value(probeKey{}).(bool); return v }

// check runs the probe for ns (a "db.coll") with ei, once per AutoEncrypter. A probe that fails
// for another reason than encryptionInformation (the network, authorization) is not an answer:
// it is run again before the next command.
func (p *qeProbe) check(ctx context.Context, meta *mongo.Client, ns string, ei bson.Raw) error {
	if p == nil || meta == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.err
	}
	db, coll, _ := strings.Cut(ns, ".")
	cmd := bsoncore.NewDocumentBuilder().
		AppendString("find", coll).
		AppendDocument("filter", bsoncore.NewDocumentBuilder().Build()).
		AppendDocument("projection", bsoncore.NewDocumentBuilder().AppendInt32("_id", 1).Build()).
		AppendInt64("limit", 1).
		AppendBoolean("singleBatch", true).
		AppendDocument("encryptionInformation", bsoncore.Document(ei)).
		Build()
	err := meta.Database(db).RunCommand(probeCtx(ctx), bson.Raw(cmd)).Err()
	var ce mongo.CommandError
	switch {
	case err == nil:
		p.done = true
	case errors.As(err, &ce) && strings.Contains(ce.Message, "encryptionInformation"):
		p.done = true
		p.err = &Error{Code: CodeClient, Err: &qeUnsupportedError{what: "it refused the encryptionInformation of a command on " + ns, server: ce}}
	}
	return p.err
}

// hideProbes wraps a command monitor so that it does not see the probe's commands.
func hideProbes(m *event.CommandMonitor) *event.CommandMonitor {
	if m == nil {
		return nil
	}
	w := &event.CommandMonitor{}
	if m.Started != nil {
		w.Started = func(ctx context.Context, e *event.CommandStartedEvent) {
			if !isProbe(ctx) {
				m.Started(ctx, e)
			}
		}
	}
	if m.Succeeded != nil {
		w.Succeeded = func(ctx context.Context, e *event.CommandSucceededEvent) {
			if !isProbe(ctx) {
				m.Succeeded(ctx, e)
			}
		}
	}
	if m.Failed != nil {
		w.Failed = func(ctx context.Context, e *event.CommandFailedEvent) {
			if !isProbe(ctx) {
				m.Failed(ctx, e)
			}
		}
	}
	return w
}
