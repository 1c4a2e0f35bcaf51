// Config and the logger it carries: the settings that the driver's option types have no field
// for, and the attributes of the records (key ids, durations, errors without keyAltNames or
// the messages of server errors).

package mongocrypt

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Config holds the settings of this package that the driver's option types have no field for:
// for now, a logger. [NewClientEncryption], [Connect] and [NewAutoEncrypter] are the methods
// of the zero Config, which logs nothing. A Config is a plain value with no state of its own:
// one may serve any number of clients, and two clients may log to two loggers.
//
//	cfg := mongocrypt.Config{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
//	ce, err := cfg.NewClientEncryption(keyVaultClient, ceOpts)
//	client, err := cfg.Connect(clientOpts)
//
// The driver's LoggerOptions (options.ClientOptions.LoggerOptions) are left to the driver: they
// have no component for encryption, and [NewClientEncryption] is given a client, not its
// options.
type Config struct {
	// Logger receives the records of the ClientEncryption, AutoEncrypter or client made with
	// this Config; nil logs nothing. The records name key ids (as UUIDs), KMS provider names,
	// namespaces, command names, operations and their durations; never a key, key material, a
	// credential, a keyAltName or a value, encrypted or not. The records of a failure have an
	// error attribute: the text of the error, with the keyAltNames it quotes and the messages
	// of server errors (which may quote documents) left out, their codes kept.
	//
	// At Info: a ClientEncryption or AutoEncrypter made ("client encryption ready", "auto
	// encryption ready"), a data key created ("data key created"), data keys rewrapped ("data
	// keys rewrapped"). At Warn: an option that is ignored ("extra option ignored" for an
	// unknown ExtraOptions key, "KMS TLS options ignored" for TLS options of a KMS provider that
	// is not configured). At Debug, per operation: "key cache hit" and "key cache miss", "key
	// vault find", "KMS decrypt" and "KMS encrypt", "collection options read" (listCollections
	// for a schema), "command analyzed" (with outcome unchanged, rewritten, refused or failed),
	// and "extra option has no effect" for the mongocryptd and crypt_shared settings.
	//
	// Every record has the attribute component=mongocrypt. Handlers see the context of the
	// operation, so values the application put in it reach them.
	Logger *slog.Logger
}

// logger is the Logger of a Config. Its zero value logs nothing; its methods cost a nil check
// then.
type logger struct{ l *slog.Logger }

func newLogger(l *slog.Logger) logger {
	if l == nil {
		return logger{}
	}
	return logger{l.With(slog.String("component", "mongocrypt"))}
}

// on tells whether records of level are wanted.
func (g logger) on(ctx context.Context, level slog.Level) bool {
	return g.l != nil && g.l.Enabled(ctx, level)
}

func (g logger) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if g.on(ctx, level) {
		g.l.LogAttrs(ctx, level, msg, attrs...)
	}
}

// kms records a request to a KMS provider for key id (zero when not known yet).
func (g logger) kms(ctx context.Context, op string, id [16]byte, provider string, start time.Time, err error) {
	if !g.on(ctx, slog.LevelDebug) {
		return
	}
	attrs := make([]slog.Attr, 0, 4)
	if id != ([16]byte{}) {
		attrs = append(attrs, keyIDAttr(id))
	}
	attrs = append(attrs, slog.String("kms_provider", provider), durationSince(start))
	if err != nil {
		attrs = append(attrs, errAttr(err))
	}
	g.l.LogAttrs(ctx, slog.LevelDebug, op, attrs...)
}

func keyIDAttr(id [16]byte) slog.Attr { return slog.String("key_id", uuidString(id)) }

func keyIDsAttr(key string, ids []any) slog.Attr {
	s := make([]string, 0, len(ids))
	for _, b := range ids {
		if bin, ok := b.(bson.Binary); ok && len(bin.Data) == 16 {
			s = append(s, uuidString([16]byte(bin.Data)))
		}
	}
	return slog.Any(key, s)
}

func durationSince(start time.Time) slog.Attr { return slog.Duration("duration", time.Since(start)) }

// quotedAltName is a keyAltName in the text of an error: keyAltName "name".
var quotedAltName = regexp.MustCompile(`keyAltName "(?:[^"\\]|\\.)*"`)

// errAttr is the text of an error for a record. The errors of this package name fields, key ids
// and providers, never values or secrets (see noplaintext_errors_test.go); two things in their
// chains may still quote data, and are left out: the keyAltNames they quote (a keyAltName may be
// a value of a document, through a JSON schema keyId "/field"), and the message of a server
// error (a mongo.ServerError: MongoDB's and FerretDB's messages quote documents and filters,
// "dup key: { ssn: ... }", a document that failed validation), of which the codes and the name
// stay. The driver's network errors are kept as they are: they come from the connection.
func errAttr(err error) slog.Attr {
	return slog.String("error", logText(err))
}

func logText(err error) string {
	s := err.Error()
	for _, se := range serverErrors(err, nil) {
		t := se.Error()
		if t == "" {
			continue
		}
		if !strings.Contains(s, t) {
			// A wrapper that does not quote its cause as it is: nothing of the text is kept.
			return "an error holding a server error (text not logged): " + serverErrorSummary(se)
		}
		s = strings.ReplaceAll(s, t, serverErrorSummary(se))
	}
	return quotedAltName.ReplaceAllLiteralString(s, "keyAltName (not logged)")
}

// serverErrors appends the server errors of the chain of err to out, not descending into them.
func serverErrors(err error, out []mongo.ServerError) []mongo.ServerError {
	if se, ok := err.(mongo.ServerError); ok {
		if se.HasErrorLabel("NetworkError") {
			return out
		}
		return append(out, se)
	}
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		if c := e.Unwrap(); c != nil {
			return serverErrors(c, out)
		}
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			if c != nil {
				out = serverErrors(c, out)
			}
		}
	}
	return out
}

// serverErrorSummary stands for the text of a server error in a record: its codes and, for a
// command error, its code name.
func serverErrorSummary(se mongo.ServerError) string {
	name := ""
	switch ce := se.(type) {
	case mongo.CommandError:
		name = ce.Name
	case *mongo.CommandError:
		name = ce.Name
	}
	if name != "" {
		name = " (" + name + ")"
	}
	return fmt.Sprintf("server error codes %v%s, message not logged", se.ErrorCodes(), name)
}

// providerNames lists the configured KMS providers, sorted.
func providerNames(m map[string]map[string]any) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// expirationAttr is the keyExpiration of the cache: "never" for 0.
func expirationAttr(ttl time.Duration) slog.Attr {
	if ttl == 0 {
		return slog.String("key_expiration", "never")
	}
	return slog.Duration("key_expiration", ttl)
}
