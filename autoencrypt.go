// Automatic encryption of a command: AutoEncrypter.Encrypt runs query analysis (package
// analysis) with the schemas of schemas.go, encrypts the placeholders it leaves, and finishes
// Queryable Encryption commands (encryptionInformation, compaction and cleanup tokens). The
// create and drop commands of encryptedFieldsMap collections go on to collection.go.

package mongocrypt

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/mongocrypt-go/mongocrypt/internal/analysis"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
	"github.com/mongocrypt-go/mongocrypt/internal/fleblob"
	"github.com/mongocrypt-go/mongocrypt/internal/qe"
)

// Encrypt returns the command to send for cmd, a command on database db: every value that the
// schema of its collection marks for encryption is encrypted, or the command is refused with an
// error naming the field and the reason, before anything is sent. Commands that need no
// encryption (hello, getMore, ...) are returned unchanged; so is every command with
// bypassAutoEncryption.
func (a *AutoEncrypter) Encrypt(ctx context.Context, db string, cmd bson.Raw) (bson.Raw, error) {
	if a.closed.Load() {
		return nil, errClosed("the AutoEncrypter")
	}
	if a.bypass {
		return cmd, nil
	}
	out, err := a.encryptCommand(ctx, db, cmd)
	return out, errorOf(err)
}

// encryptCommand is analyzeCommand, recorded at Debug: the command name, its database, the
// outcome and the duration. The outcome is "unchanged" (sent as it is), "rewritten" (values
// encrypted or encryptionInformation added), "refused" (analysis refused the command; the
// error names the field and the reason) or "failed" (schemas or keys could not be read).
func (a *AutoEncrypter) encryptCommand(ctx context.Context, db string, cmd bson.Raw) (bson.Raw, error) {
	if !a.e.log.on(ctx, slog.LevelDebug) {
		return a.analyzeCommand(ctx, db, cmd)
	}
	start := time.Now()
	out, err := a.analyzeCommand(ctx, db, cmd)
	name, _ := commandName(cmd)
	outcome := "rewritten"
	switch {
	case err != nil && codeOf(err) == CodeAnalysis:
		outcome = "refused"
	case err != nil:
		outcome = "failed"
	case len(out) == len(cmd) && (len(out) == 0 || &out[0] == &cmd[0]):
		outcome = "unchanged"
	}
	attrs := []slog.Attr{slog.String("command", name), slog.String("database", db), slog.String("outcome", outcome), durationSince(start)}
	if err != nil {
		attrs = append(attrs, errAttr(err))
	}
	a.e.log.l.LogAttrs(ctx, slog.LevelDebug, "command analyzed", attrs...)
	return out, err
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
		return a.drop(ctx, db, cmd)
	}
	if len(nss) == 0 {
		return cmd, nil // a command that bypasses auto encryption
	}
	schemas := make(map[string]analysis.Schema, len(nss))
	createTarget := ""
	if name == "create" {
		createTarget = db + "." + targetCollection(cmd)
	}
	for _, ns := range nss {
		var s analysis.Schema
		if ns == createTarget {
			// The collection a create makes has no options on the server yet: its schema is
			// the one of the maps, if any (libmongocrypt reads no collection options for a
			// create), and create resolves its keyAltNames. The source of a view is read as
			// for any command.
			schemas[ns] = a.schemas.local(ns)
			continue
		}
		if s, err = a.schemas.schema(ctx, ns); err != nil {
			return nil, err
		}
		if s.EncryptedFields != nil {
			if s.EncryptedFields, err = a.e.resolveAltNames(ctx, s.EncryptedFields); err != nil {
				return nil, err
			}
		}
		schemas[ns] = s
	}
	if name == "create" {
		return a.create(ctx, db, cmd, schemas)
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
	if res.UsesQE {
		// For Queryable Encryption, libmongocrypt sends the command as query analysis wrote it
		// (filters parsed and serialized again: {_id: 1} becomes {_id: {$eq: 1}}), with or
		// without placeholders.
		out = res.Command
	}
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
		if targetCollection(orig) != "" {
			if err := a.probe.check(ctx, a.schemas.meta, target, ei); err != nil {
				return nil, err
			}
		}
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
				// Analysis takes the keyAltName of a placeholder from the document (a
				// JSON schema keyId pointer): a value, which errors must not quote.
				req.addName(p.KeyAltName)
				req.docNames = true
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
