package mongocrypt

// Leaks through the logger and the error texts: the records of a Config's Logger and the
// errors that the exported functions return are searched for plaintexts, keyAltNames taken
// from documents, data keys, KMS credentials and tokens, in the forms of secretForms.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// leakCheck fails when any of the secrets, in any form of secretForms, is in the text.
func leakCheck(t *testing.T, where, text string, secrets map[string][]byte) {
	t.Helper()
	for what, s := range secrets {
		for _, f := range secretForms(s) {
			if len(f) >= 6 && strings.Contains(text, f) {
				t.Errorf("%s holds %s (%.24q...):\n%s", where, what, f, text)
				break
			}
		}
	}
}

// errTexts is every rendering of err a caller or a log could see: Error(), the Message of the
// mongo.MongocryptError it converts to, and %+v.
func errTexts(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error() + "\n" + fmt.Sprintf("%+v", err)
	var me mongo.MongocryptError
	if errors.As(err, &me) {
		s += "\n" + me.Message
	}
	return s
}

// TestLogServerErrorTextLeftOut: a key vault whose server error echoes the filter (as MongoDB
// and FerretDB error messages quote documents and filters, "dup key: { ... }") names the
// keyAltNames the query asked for; the records of the logger keep the codes of the server
// error and leave its message out. The error returned is the caller's, with the server's text.
func TestLogServerErrorTextLeftOut(t *testing.T) {
	ctx := t.Context()
	env := newEnv(t)
	const docAltName = "person-alice@example.com" // a keyAltName read from a document
	const plaintext = "457-55-5462-plaintext"
	var capt logCapture
	a, err := Config{Logger: capt.logger()}.NewAutoEncrypter(options.Client().ApplyURI(testURI).
		SetAutoEncryptionOptions(options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
			SetSchemaMap(map[string]any{env.db + ".people": bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{
				{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "string"},
					{Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}, {Key: "keyId", Value: "/owner"}}}}},
			}}}})))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	serverErrs := map[string]error{
		"command error": mongo.CommandError{Code: 2, Name: "BadValue", Message: `cannot use filter { $or: [ { keyAltNames: { $in: [ "` + docAltName + `" ] } } ] } with ` + plaintext},
		"write exception": mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000,
			Message: `E11000 duplicate key error collection: db.people index: ssn_1 dup key: { ssn: "` + plaintext + `", owner: "` + docAltName + `" }`}}},
		"bulk write exception": mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 121,
			Message: `Document failed validation: { owner: "` + docAltName + `", ssn: "` + plaintext + `" }`}}}},
	}
	for name, serr := range serverErrs {
		t.Run(name, func(t *testing.T) {
			a.e.findKeysHook = func(ctx context.Context, filter any) ([]bson.Raw, error) {
				// What findKeys makes of a failed Find.
				return nil, &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: serr}}
			}
			capt.mu.Lock()
			capt.recs, capt.json = nil, bytes.Buffer{}
			capt.mu.Unlock()
			cmd, _ := bson.Marshal(bson.D{{Key: "insert", Value: "people"}, {Key: "documents", Value: bson.A{
				bson.D{{Key: "owner", Value: docAltName}, {Key: "ssn", Value: plaintext}}}}})
			_, err := a.Encrypt(ctx, env.db, cmd)
			if err == nil || codeOf(err) != CodeKeyVault {
				t.Fatalf("encrypt with a failing key vault: %v", err)
			}
			var kve mongo.EncryptionKeyVaultError
			if !errors.As(err, &kve) || !strings.Contains(kve.Wrapped.Error(), plaintext) {
				t.Fatalf("the caller's error lost the server error: %v", err)
			}
			find := capt.mustFind(t, slog.LevelDebug, "key vault find", nil)
			analyzed := capt.mustFind(t, slog.LevelDebug, "command analyzed", map[string]string{"outcome": "failed"})
			for _, r := range []capturedRecord{find, analyzed} {
				codes := fmt.Sprint(serr.(mongo.ServerError).ErrorCodes())
				if e := r.attrs["error"]; !strings.Contains(e, "key vault find") || !strings.Contains(e, codes) {
					t.Errorf("record %s: the error attribute does not say what failed with which codes (%s)", r, codes)
				}
			}
			leakCheck(t, "the records", capt.text(), map[string][]byte{"the plaintext": []byte(plaintext), "the keyAltName": []byte(docAltName)})
		})
	}
}

// TestLogErrAttrServerErrors: the error attribute of a record gives a server error's codes and
// name, never its message, wherever it is in the chain (wrapped by fmt.Errorf, joined, the
// cause of a KMS error).
func TestLogErrAttrServerErrors(t *testing.T) {
	const secret = "S3CRET-echoed-document"
	ce := mongo.CommandError{Code: 11000, Name: "DuplicateKey", Message: `dup key: { ssn: "` + secret + `" }`, Labels: []string{"L1"}}
	we := mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 121, Message: "Document failed validation " + secret}},
		WriteConcernError: &mongo.WriteConcernError{Code: 64, Name: "WriteConcernFailed", Message: secret}}
	for _, err := range []error{
		&Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: ce}},
		withMessage(ce, "creating db.coll"),
		withMessage(we, "creating the state collection db.enxcol_.coll.esc"),
		clientErr("reading: %w", fmt.Errorf("inner: %w", ce)),
		&Error{Code: CodeClient, Message: "2 of 2 keys failed", Err: errors.Join(&Error{Code: CodeKeyVault, Err: ce}, we)},
		&Error{Code: CodeClient, Err: &ce},
	} {
		got := errAttr(err).Value.String()
		if strings.Contains(got, secret) {
			t.Errorf("error attribute %q of %q", got, err)
		}
		if !strings.Contains(got, "11000") && !strings.Contains(got, "121") {
			t.Errorf("error attribute %q of %q: no server error code", got, err)
		}
	}
	// The driver's network errors name no document: their text stays.
	net := mongo.CommandError{Message: "connection(localhost:1) incomplete read of message header: EOF", Labels: []string{"NetworkError"}}
	if got := errAttr(&Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: "find", Err: net}}).Value.String(); !strings.Contains(got, "incomplete read") {
		t.Errorf("error attribute %q of a network error", got)
	}
}

// TestKeyAltNameFromDocumentNotInError: a keyAltName that a JSON schema keyId pointer reads from
// the document is a value of the document; when no key, or more than one key, has it, the
// error of the insert says so without quoting it, and the records do not hold it either.
func TestKeyAltNameFromDocumentNotInError(t *testing.T) {
	ctx := t.Context()
	var capt logCapture
	cfg := Config{Logger: capt.logger()}
	env := newEnv(t)
	const docAltName = "person-alice@example.com"
	const plaintext = "457-55-5462-plaintext"
	schema := bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{
		{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "string"},
			{Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Random"}, {Key: "keyId", Value: "/owner"}}}}},
	}}}
	client, err := cfg.Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).SetSchemaMap(map[string]any{env.db + ".people": schema})))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database(env.db).Collection("people")
	doc := bson.D{{Key: "owner", Value: docAltName}, {Key: "ssn", Value: plaintext}}
	secrets := map[string][]byte{"the plaintext": []byte(plaintext), "the keyAltName": []byte(docAltName)}

	_, err = coll.InsertOne(ctx, doc)
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("insert under a keyAltName no key has: %v", err)
	}
	leakCheck(t, "the error of a missing key", errTexts(err), secrets)

	// Two keys with the keyAltName (written around the checks of CreateDataKey).
	id, err := env.ce.CreateDataKey(ctx, "local", options.DataKey().SetKeyAltNames([]string{docAltName}))
	if err != nil {
		t.Fatal(err)
	}
	var kd bson.D
	if err := env.ce.GetKey(ctx, id).Decode(&kd); err != nil {
		t.Fatal(err)
	}
	kd[0].Value = bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{7}, 16)}
	if _, err := env.kv.InsertOne(ctx, kd); err != nil {
		t.Fatal(err)
	}
	_, err = coll.InsertOne(ctx, doc)
	if err == nil || !strings.Contains(err.Error(), "more than one key") {
		t.Fatalf("insert under a keyAltName of two keys: %v", err)
	}
	leakCheck(t, "the error of a keyAltName of two keys", errTexts(err), secrets)
	leakCheck(t, "the records", capt.text(), secrets)
	if len(capt.find("command analyzed", map[string]string{"outcome": "failed"})) != 2 {
		t.Errorf("want two failed analyses; records:\n%s", capt.text())
	}

	// The keyAltName of an explicit call is the caller's argument: its error names it.
	_, err = env.ce.Encrypt(ctx, rawValue(t, plaintext), options.Encrypt().SetKeyAltName("no-such-name").SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), `"no-such-name"`) {
		t.Errorf("explicit encryption under a missing keyAltName: %v", err)
	}
}

// kmsReplier is an http.RoundTripper that answers every KMS and token request with reply,
// given the path and the request body.
type kmsReplier func(path string, body []byte) (int, string)

func (f kmsReplier) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	status, reply := f(r.URL.Path, body)
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(reply)), Request: r, ContentLength: int64(len(reply))}, nil
}

// TestKMSSuccessLikeReplyNotQuoted: a KMS or token endpoint (or a proxy in front of one) that
// answers with a 2xx status other than 200 gives a body of the shape of a success: a token, a
// data key. libmongocrypt accepts only 200, and so does this package; the error and the
// records name the status without quoting that body.
func TestKMSSuccessLikeReplyNotQuoted(t *testing.T) {
	ctx := t.Context()
	env := newEnv(t)
	const token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.S3CRET-ACCESS-TOKEN"
	const clientSecret = "azure-client-S3CRET"
	dek := make([]byte, 96)
	for i := range dek {
		dek[i] = byte(i*7 + 3)
	}
	secrets := map[string][]byte{"the access token": []byte(token), "the client secret": []byte(clientSecret), "the data key": dek}

	var capt logCapture
	newCE := func(rt http.RoundTripper) *ClientEncryption {
		kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
		if err != nil {
			t.Fatal(err)
		}
		o := options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(map[string]map[string]any{
			"azure": {"tenantId": "tenant", "clientId": "client", "clientSecret": clientSecret},
			"gcp":   {"accessToken": token},
		})
		o.Opts = append(o.Opts, func(a *options.ClientEncryptionOptions) error { a.HTTPClient = &http.Client{Transport: rt}; return nil })
		ce, err := Config{Logger: capt.logger()}.NewClientEncryption(kvClient, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ce.Close(context.Background()) })
		return ce
	}
	azureKey := bson.D{{Key: "keyVaultEndpoint", Value: "vault.vault.azure.net"}, {Key: "keyName", Value: "k"}}
	gcpKey := bson.D{{Key: "projectId", Value: "p"}, {Key: "location", Value: "l"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}}

	// The token endpoint answers 203 with a token.
	ce := newCE(kmsReplier(func(path string, _ []byte) (int, string) {
		return http.StatusNonAuthoritativeInfo, `{"token_type":"Bearer","expires_in":3599,"access_token":"` + token + `"}`
	}))
	_, err := ce.CreateDataKey(ctx, "azure", options.DataKey().SetMasterKey(azureKey))
	var ke *KMSError
	if !errors.As(err, &ke) || ke.Status != http.StatusNonAuthoritativeInfo {
		t.Fatalf("a 203 token reply: %v", err)
	}
	leakCheck(t, "the error of a 203 token reply", errTexts(err), secrets)

	// GCP: a data key made with a KMS that "encrypts" as the identity, then a decrypt answered
	// with 206 and the data key.
	identity := kmsReplier(func(path string, body []byte) (int, string) {
		var req map[string]string
		_ = json.Unmarshal(body, &req)
		if strings.HasSuffix(path, ":encrypt") {
			return http.StatusOK, `{"ciphertext":"` + req["plaintext"] + `"}`
		}
		return http.StatusPartialContent, `{"plaintext":"` + req["ciphertext"] + `"}`
	})
	id, err := newCE(identity).CreateDataKey(ctx, "gcp", options.DataKey().SetMasterKey(gcpKey).SetKeyMaterial(dek))
	if err != nil {
		t.Fatal(err)
	}
	fresh := newCE(identity) // its cache is empty
	_, err = fresh.Encrypt(ctx, rawValue(t, "v"), options.Encrypt().SetKeyID(id).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
	if !errors.As(err, &ke) || ke.Status != http.StatusPartialContent || !strings.Contains(err.Error(), "206") {
		t.Fatalf("a 206 decrypt reply: %v", err)
	}
	leakCheck(t, "the error of a 206 decrypt reply", errTexts(err), secrets)
	leakCheck(t, "the records", capt.text(), secrets)
	if len(capt.find("KMS decrypt", map[string]string{"kms_provider": "gcp"})) == 0 {
		t.Errorf("no KMS decrypt record:\n%s", capt.text())
	}

	// A 400 reply is an error document: it is quoted, as libmongocrypt quotes it.
	bad := newCE(kmsReplier(func(string, []byte) (int, string) {
		return http.StatusBadRequest, `{"error":{"code":400,"message":"Invalid cryptoKey name"}}`
	}))
	_, err = bad.CreateDataKey(ctx, "gcp", options.DataKey().SetMasterKey(gcpKey))
	if err == nil || !strings.Contains(err.Error(), "Invalid cryptoKey name") {
		t.Errorf("a 400 reply: %v", err)
	}
}

// TestCodecOfAnyValue: codecOf never panics, whatever it is given, and reads only the fields
// of the struct itself.
func TestCodecOfAnyValue(t *testing.T) {
	type inner struct {
		registry *bson.Registry
		bsonOpts *options.BSONOptions
	}
	type embedsPointer struct{ *inner }
	type wrongTypes struct {
		registry string
		bsonOpts int
	}
	reg := bson.NewRegistry()
	for _, v := range []any{
		nil, 1, "x", (*int)(nil), new(int), &[]int{}, struct{}{}, &struct{}{},
		(*mongo.Client)(nil), (*mongo.Database)(nil), &mongo.Client{}, &mongo.Database{},
		&embedsPointer{}, &embedsPointer{&inner{registry: reg}}, &wrongTypes{"r", 1}, &inner{},
		reflect.ValueOf(1), new(any), new(*mongo.Client),
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("codecOf(%T): panic %v", v, r)
				}
			}()
			_ = codecOf(v)
		}()
	}
	bo := &options.BSONOptions{}
	if got := codecOf(&inner{registry: reg, bsonOpts: bo}); got.reg != reg || got.opts != bo {
		t.Errorf("codecOf of a struct with the fields: %+v", got)
	}
	if got := codecOf(&wrongTypes{"r", 1}); got != (bsonCodec{}) {
		t.Errorf("codecOf of fields of other types: %+v", got)
	}
}

// TestCreateEncryptedCollectionNilDatabase: a nil database is refused before any data key is
// made, without a panic.
func TestCreateEncryptedCollectionNilDatabase(t *testing.T) {
	env := newEnv(t)
	ef := bson.D{{Key: "fields", Value: bson.A{bson.D{{Key: "path", Value: "ssn"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: nil}}}}}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		_, _, err = env.ce.CreateEncryptedCollection(t.Context(), nil, "c", options.CreateCollection().SetEncryptedFields(ef), "local", nil)
	}()
	var me *Error
	if !errors.As(err, &me) || me.Code != CodeClient {
		t.Fatalf("CreateEncryptedCollection with a nil database: %v", err)
	}
	if n, err := env.kv.CountDocuments(t.Context(), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d data keys made (%v)", n, err)
	}
}

// TestLoggerConcurrent: one Config and its Logger shared by a ClientEncryption and an
// auto-encrypting client, used from many goroutines (go test -race), every record complete.
func TestLoggerConcurrent(t *testing.T) {
	ctx := t.Context()
	var capt logCapture
	cfg := Config{Logger: capt.logger()}
	env := newEnv(t)
	kvClient, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := cfg.NewClientEncryption(kvClient, options.ClientEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()))
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Close(ctx)
	var ids []bson.Binary
	for i := range 4 {
		id, err := ce.CreateDataKey(ctx, []string{"local", "local:other"}[i%2], options.DataKey().SetKeyAltNames([]string{fmt.Sprint("k", i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	schema := bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{
		{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "bsonType", Value: "string"},
			{Key: "algorithm", Value: "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"}, {Key: "keyId", Value: bson.A{ids[0]}}}}}},
	}}}
	client, err := cfg.Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(options.AutoEncryption().
		SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).SetSchemaMap(map[string]any{env.db + ".c": schema})))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				ct, err := ce.Encrypt(ctx, rawValue(t, fmt.Sprint("S3CRET-", g, i)), options.Encrypt().SetKeyID(ids[(g+i)%4]).SetAlgorithm("AEAD_AES_256_CBC_HMAC_SHA_512-Random"))
				if err != nil {
					errs <- err
					return
				}
				if _, err := ce.Decrypt(ctx, ct); err != nil {
					errs <- err
					return
				}
				if _, err := client.Database(env.db).Collection("c").InsertOne(ctx, bson.D{{Key: "ssn", Value: fmt.Sprint("S3CRET-", g, i)}}); err != nil {
					errs <- err
					return
				}
				if g%2 == 0 {
					ce.e.cache.Evict([16]byte(ids[(g+i)%4].Data))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if all := capt.text(); strings.Contains(all, "S3CRET") {
		t.Fatalf("a plaintext is in the records")
	}
	for _, r := range capt.recs {
		if r.attrs["component"] != "mongocrypt" {
			t.Fatalf("record without component: %s", r)
		}
	}
	if len(capt.find("command analyzed", map[string]string{"command": "insert", "outcome": "rewritten"})) != 40 {
		t.Errorf("want 40 analysed inserts")
	}
}

// TestRefusalsShowNoPlaintext: automatic encryption refuses commands that would compare,
// compute on or write plaintext values of encrypted fields in ways it cannot encrypt, and
// values that cannot be encrypted; neither the errors nor the records of the logger hold the
// value.
func TestRefusalsShowNoPlaintext(t *testing.T) {
	ctx := t.Context()
	env := newEnv(t)
	keyID, err := env.ce.CreateDataKey(ctx, "local")
	if err != nil {
		t.Fatal(err)
	}
	det, rnd := "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic", "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
	csfle := bson.D{{Key: "bsonType", Value: "object"}, {Key: "properties", Value: bson.D{
		{Key: "ssn", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{keyID}}, {Key: "bsonType", Value: "string"}, {Key: "algorithm", Value: det}}}}},
		{Key: "secret", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{keyID}}, {Key: "algorithm", Value: rnd}}}}},
		{Key: "n", Value: bson.D{{Key: "encrypt", Value: bson.D{{Key: "keyId", Value: bson.A{keyID}}, {Key: "bsonType", Value: "int"}, {Key: "algorithm", Value: det}}}}},
	}}}
	qeFields := bson.D{{Key: "fields", Value: bson.A{
		bson.D{{Key: "path", Value: "eq"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: keyID},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "equality"}, {Key: "contention", Value: int64(0)}}}},
		bson.D{{Key: "path", Value: "age"}, {Key: "bsonType", Value: "int"}, {Key: "keyId", Value: keyID},
			{Key: "queries", Value: bson.D{{Key: "queryType", Value: "range"}, {Key: "contention", Value: int64(0)},
				{Key: "sparsity", Value: int64(1)}, {Key: "trimFactor", Value: int32(1)},
				{Key: "min", Value: int32(0)}, {Key: "max", Value: int32(150)}}}},
		bson.D{{Key: "path", Value: "un"}, {Key: "bsonType", Value: "string"}, {Key: "keyId", Value: keyID}},
	}}}
	var capt logCapture
	a, err := Config{Logger: capt.logger()}.NewAutoEncrypter(options.Client().ApplyURI(testURI).
		SetAutoEncryptionOptions(options.AutoEncryption().SetKeyVaultNamespace(env.kvNS).SetKmsProviders(localProviders()).
			SetSchemaMap(map[string]any{env.db + ".c": csfle}).SetEncryptedFieldsMap(map[string]any{env.db + ".q": qeFields})))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	const m = "S3CRET-MARKER-4242"
	const n = int32(987654)
	markers := map[string][]byte{"the string marker": []byte(m), "the number marker": []byte("987654")}
	f := func(k string, v any) bson.D { return bson.D{{Key: k, Value: v}} }
	cmds := map[string]bson.D{
		"det range":           {{Key: "find", Value: "c"}, {Key: "filter", Value: f("ssn", f("$gt", m))}},
		"det regex":           {{Key: "find", Value: "c"}, {Key: "filter", Value: f("ssn", f("$regex", m))}},
		"det regex literal":   {{Key: "find", Value: "c"}, {Key: "filter", Value: f("ssn", bson.Regex{Pattern: m})}},
		"random equality":     {{Key: "find", Value: "c"}, {Key: "filter", Value: f("secret", m)}},
		"random in":           {{Key: "find", Value: "c"}, {Key: "filter", Value: f("secret", f("$in", bson.A{m, n}))}},
		"det wrong type":      {{Key: "insert", Value: "c"}, {Key: "documents", Value: bson.A{f("ssn", n)}}},
		"det double":          {{Key: "insert", Value: "c"}, {Key: "documents", Value: bson.A{f("n", float64(n)+0.5)}}},
		"det wrong type find": {{Key: "find", Value: "c"}, {Key: "filter", Value: f("n", m)}},
		"expr":                {{Key: "find", Value: "c"}, {Key: "filter", Value: f("$expr", f("$gt", bson.A{"$ssn", m}))}},
		"expr concat":         {{Key: "find", Value: "c"}, {Key: "filter", Value: f("$expr", f("$eq", bson.A{f("$concat", bson.A{"$ssn", m}), m}))}},
		"where":               {{Key: "find", Value: "c"}, {Key: "filter", Value: f("$where", "this.ssn == '"+m+"'")}},
		"elemMatch":           {{Key: "find", Value: "c"}, {Key: "filter", Value: f("ssn", f("$elemMatch", f("$eq", m)))}},
		"set prefix":          {{Key: "update", Value: "c"}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{}}, {Key: "u", Value: f("$set", f("ssn.x", m))}}}}},
		"pipeline update":     {{Key: "update", Value: "c"}, {Key: "updates", Value: bson.A{bson.D{{Key: "q", Value: bson.D{}}, {Key: "u", Value: bson.A{f("$set", f("ssn", f("$concat", bson.A{m, "$name"})))}}}}}},
		"group":               {{Key: "aggregate", Value: "c"}, {Key: "pipeline", Value: bson.A{f("$group", bson.D{{Key: "_id", Value: "$ssn"}, {Key: "x", Value: f("$max", f("$concat", bson.A{"$ssn", m}))}})}}, {Key: "cursor", Value: bson.D{}}},
		"validator":           {{Key: "create", Value: "c"}, {Key: "validator", Value: f("ssn", m)}},
		"qe wrong type":       {{Key: "insert", Value: "q"}, {Key: "documents", Value: bson.A{f("eq", n)}}},
		"qe range on eq":      {{Key: "find", Value: "q"}, {Key: "filter", Value: f("eq", f("$gt", m))}},
		"qe unindexed query":  {{Key: "find", Value: "q"}, {Key: "filter", Value: f("un", m)}},
		"qe range too big":    {{Key: "insert", Value: "q"}, {Key: "documents", Value: bson.A{f("age", n)}}},
		"qe range find big":   {{Key: "find", Value: "q"}, {Key: "filter", Value: f("age", f("$gt", n))}},
		"qe regex":            {{Key: "find", Value: "q"}, {Key: "filter", Value: f("eq", f("$regex", m))}},
		"qe ne":               {{Key: "find", Value: "q"}, {Key: "filter", Value: f("eq", f("$not", f("$regex", m)))}},
		"qe range wrong type": {{Key: "find", Value: "q"}, {Key: "filter", Value: f("age", f("$gte", m))}},
		"qe expr":             {{Key: "aggregate", Value: "q"}, {Key: "pipeline", Value: bson.A{f("$match", f("$expr", f("$in", bson.A{"$eq", bson.A{m, f("$toUpper", m)}})))}}, {Key: "cursor", Value: bson.D{}}},
	}
	refused := 0
	for name, cmd := range cmds {
		raw, err := bson.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Encrypt(ctx, env.db, raw)
		if err == nil {
			continue // some are accepted (their values encrypted): the wire tests cover those
		}
		refused++
		leakCheck(t, "the error of "+name, errTexts(err), markers)
	}
	if refused < len(cmds)/2 {
		t.Errorf("only %d of %d commands refused", refused, len(cmds))
	}
	leakCheck(t, "the records", capt.text(), markers)

	// Explicit encryption of values it cannot encrypt.
	for name, o := range map[string]struct {
		v    any
		opts *options.EncryptOptionsBuilder
	}{
		"det double":       {float64(n) + 0.5, options.Encrypt().SetKeyID(keyID).SetAlgorithm(det)},
		"det document":     {f("x", m), options.Encrypt().SetKeyID(keyID).SetAlgorithm(det)},
		"range no options": {n, options.Encrypt().SetKeyID(keyID).SetAlgorithm("Range").SetContentionFactor(0)},
		"range string":     {m, options.Encrypt().SetKeyID(keyID).SetAlgorithm("Range").SetContentionFactor(0).SetRangeOptions(options.Range().SetMin(rawValue(t, int32(0))).SetMax(rawValue(t, int32(10))))},
		"indexed range qt": {m, options.Encrypt().SetKeyID(keyID).SetAlgorithm("Indexed").SetContentionFactor(0).SetQueryType("range")},
		"det empty key":    {m, options.Encrypt().SetKeyID(bson.Binary{Subtype: 4, Data: []byte(m)}).SetAlgorithm(det)},
	} {
		_, err := env.ce.Encrypt(ctx, rawValue(t, o.v), o.opts)
		if err == nil {
			t.Errorf("explicit %s: accepted", name)
			continue
		}
		leakCheck(t, "the error of explicit "+name, errTexts(err), markers)
	}
}
