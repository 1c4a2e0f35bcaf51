// Config and the logger it carries: the settings that the driver's option types have no field
// for, and the attributes of the records (key ids, durations, errors without keyAltNames).

package mongocrypt

import (
	"context"
	"log/slog"
	"regexp"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
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
	// credential, a keyAltName or a value, encrypted or not.
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

// errAttr is the text of an error of this package, which names fields, key ids and providers,
// never values or secrets (see noplaintext_errors_test.go), with the keyAltNames it quotes
// left out: a keyAltName may be a value of a document (a JSON schema keyId "/field").
func errAttr(err error) slog.Attr {
	return slog.String("error", quotedAltName.ReplaceAllLiteralString(err.Error(), "keyAltName (not logged)"))
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
