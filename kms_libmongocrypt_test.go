package mongocrypt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/fle1"
)

// libmongocryptKeys are the key ids of libmongocrypt's test/data/keys with an AWS document.
var libmongocryptKeys = []string{
	"12345678123498761234123456789012",
	"12345678123498761234123456789013",
	"ABCDEFAB123498761234123456789012",
}

// awsKMSHost is where the libmongocrypt key documents (masterKey without endpoint) send their
// Decrypt requests.
const awsKMSHost = "kms.us-east-1.amazonaws.com"

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kms", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdataExtJSON(t testing.TB, rel string) bson.Raw {
	t.Helper()
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(readTestdata(t, rel), false, &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return doc
}

// replayAWS is a TLS server with a certificate for kms.us-east-1.amazonaws.com that answers an
// AWS KMS Decrypt request for a known CiphertextBlob with the reply libmongocrypt recorded,
// byte for byte, after checking the request is what AWS expects.
type replayAWS struct {
	ln      net.Listener
	replies map[string][]byte // base64 CiphertextBlob -> recorded HTTP reply
	mu      sync.Mutex
	served  int
	bad     []string // requests refused, and why
	wg      sync.WaitGroup
}

func startReplayAWS(t *testing.T, pki *kmsPKI, replies map[string][]byte) *replayAWS {
	cert, _, _ := pki.issue(t, 10, awsKMSHost, x509.ExtKeyUsageServerAuth, []string{awsKMSHost}, nil)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	s := &replayAWS{ln: ln, replies: replies}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *replayAWS) refuse(c net.Conn, why string) {
	s.mu.Lock()
	s.bad = append(s.bad, why)
	s.mu.Unlock()
	body := fmt.Sprintf(`{"__type":"ValidationException","message":%q}`, why)
	fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func (s *replayAWS) handle(c net.Conn) {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return // a TLS failure of a client that does not trust the server
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	authz := req.Header.Get("Authorization")
	switch {
	case req.Method != http.MethodPost || req.URL.Path != "/":
		s.refuse(c, "request line "+req.Method+" "+req.URL.Path)
		return
	case req.Host != awsKMSHost:
		s.refuse(c, "Host "+req.Host)
		return
	case req.Header.Get("X-Amz-Target") != "TrentService.Decrypt":
		s.refuse(c, "X-Amz-Target "+req.Header.Get("X-Amz-Target"))
		return
	case req.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		s.refuse(c, "Content-Type "+req.Header.Get("Content-Type"))
		return
	case !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 Credential=AKIDLIBMONGOCRYPT/") || !strings.Contains(authz, "/us-east-1/kms/aws4_request"):
		s.refuse(c, "Authorization "+authz)
		return
	}
	var in struct{ CiphertextBlob string }
	if err := json.Unmarshal(body, &in); err != nil {
		s.refuse(c, "body is not JSON")
		return
	}
	reply, ok := s.replies[in.CiphertextBlob]
	if !ok {
		s.refuse(c, "unknown CiphertextBlob")
		return
	}
	s.mu.Lock()
	s.served++
	s.mu.Unlock()
	c.Write(reply)
}

func (s *replayAWS) counts() (served int, bad []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, append([]string(nil), s.bad...)
}

// redirectingClient is an HTTP client whose connections to kms.us-east-1.amazonaws.com:443 go
// to addr (TLS, with the host name checked against the server's certificate, is unchanged).
func redirectingClient(addr string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		if hostport != awsKMSHost+":443" {
			return nil, fmt.Errorf("test client: unexpected destination %s", hostport)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// TestKMSLibmongocryptKeys decrypts libmongocrypt's AWS key documents (made by its csfle tool
// against real AWS KMS) through ClientEncryption, against a KMS that replays the AWS replies
// libmongocrypt recorded: the unwrapped keys are the recorded key material, the FLE1
// ciphertexts of libmongocrypt's explicit-decrypt tests decrypt with them, explicitly and
// through Connect, and deterministic encryption reproduces libmongocrypt's ciphertext byte for
// byte.
func TestKMSLibmongocryptKeys(t *testing.T) {
	ctx := t.Context()
	pki := newKMSPKI(t)
	replies := map[string][]byte{}
	var keyDocs []bson.Raw
	for _, id := range libmongocryptKeys {
		doc := readTestdataExtJSON(t, "keys/"+id+"-aws-document.json")
		_, km := doc.Lookup("keyMaterial").Binary()
		replies[base64.StdEncoding.EncodeToString(km)] = readTestdata(t, "keys/"+id+"-aws-decrypt-reply.txt")
		keyDocs = append(keyDocs, doc)
	}
	kmsServer := startReplayAWS(t, pki, replies)

	db := uniqueDB(t)
	kvNS := db + ".datakeys"
	plain := connect(t)
	t.Cleanup(func() { _ = plain.Database(db).Drop(context.Background()) })
	for _, d := range keyDocs {
		if _, err := plain.Database(db).Collection("datakeys").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	httpClient := redirectingClient(kmsServer.ln.Addr().String())
	providers := map[string]map[string]any{"aws": {"accessKeyId": "AKIDLIBMONGOCRYPT", "secretAccessKey": "libmongocrypt-secret"}}
	tlsCfg := map[string]*tls.Config{"aws": {RootCAs: pki.pool}}
	ceOptions := func() *options.ClientEncryptionOptionsBuilder {
		o := options.ClientEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(providers).SetTLSConfig(tlsCfg)
		o.Opts = append(o.Opts, func(a *options.ClientEncryptionOptions) error { a.HTTPClient = httpClient; return nil })
		return o
	}
	ce := newKMSClientEncryption(t, ceOptions())
	expectServed := func(step string, want int) {
		t.Helper()
		served, bad := kmsServer.counts()
		if len(bad) > 0 {
			t.Fatalf("%s: the KMS refused requests: %q", step, bad)
		}
		if served != want {
			t.Fatalf("%s: %d Decrypt requests served in all, want %d", step, served, want)
		}
	}

	// libmongocrypt's explicit-decrypt FLE1 ciphertexts, under key ABCDEFAB..., decrypt to
	// "foo" with one Decrypt request; deterministic encryption of "foo" gives libmongocrypt's
	// bytes.
	blobs := map[string]bson.Binary{}
	for _, name := range []string{"FLE1DeterministicEncryptedValue", "FLE1RandomEncryptedValue"} {
		st, data := readTestdataExtJSON(t, "explicit-decrypt/"+name+".json").Lookup("v").Binary()
		blobs[name] = bson.Binary{Subtype: st, Data: data}
		checkDecrypt(t, ce, blobs[name], rawValue(t, "foo"))
	}
	expectServed("decrypting libmongocrypt's FLE1 ciphertexts", 1)
	abc, _ := hex.DecodeString("ABCDEFAB123498761234123456789012")
	keyABC := bson.Binary{Subtype: 4, Data: abc}
	det, err := ce.Encrypt(ctx, rawValue(t, "foo"), options.Encrypt().SetKeyID(keyABC).SetAlgorithm(algoDet))
	if err != nil {
		t.Fatal(err)
	}
	if want := blobs["FLE1DeterministicEncryptedValue"]; !bytes.Equal(det.Data, want.Data) {
		t.Fatalf("deterministic encryption of \"foo\"\n got %x\nwant %x (libmongocrypt)", det.Data, want.Data)
	}

	// Every key unwraps to its recorded key material: a deterministic encryption with it is
	// the one computed from <id>-key-material.txt.
	for _, id := range libmongocryptKeys {
		raw, _ := hex.DecodeString(id)
		var kid [16]byte
		copy(kid[:], raw)
		material, err := hex.DecodeString(strings.TrimSpace(string(readTestdata(t, "keys/"+id+"-key-material.txt"))))
		if err != nil {
			t.Fatal(err)
		}
		k, err := aead.NewFLE1(material)
		if err != nil {
			t.Fatal(err)
		}
		v := rawValue(t, "a value under key "+id)
		want, err := fle1.Encrypt(k, kid, fle1.Deterministic, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ce.Encrypt(ctx, v, options.Encrypt().SetKeyID(bson.Binary{Subtype: 4, Data: raw}).SetAlgorithm(algoDet))
		if err != nil {
			t.Fatalf("key %s: %v", id, err)
		}
		if !bytes.Equal(got.Data, want) {
			t.Errorf("key %s: the unwrapped key is not the recorded key material:\n got %x\nwant %x", id, got.Data, want)
		}
	}
	expectServed("using the three keys", 3)

	// Auto-decryption through Connect of a stored document holding both ciphertexts.
	coll := plain.Database(db).Collection("values")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "det", Value: blobs["FLE1DeterministicEncryptedValue"]}, {Key: "rnd", Value: blobs["FLE1RandomEncryptedValue"]}}); err != nil {
		t.Fatal(err)
	}
	ae := options.AutoEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(providers).SetTLSConfig(tlsCfg).SetBypassAutoEncryption(true)
	ae.HTTPClient = httpClient
	auto, err := Connect(options.Client().ApplyURI(testURI).SetAutoEncryptionOptions(ae))
	if err != nil {
		t.Fatal(err)
	}
	defer auto.Disconnect(context.Background())
	got, err := auto.Database(db).Collection("values").FindOne(ctx, bson.D{}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if want := mustMarshalDoc(t, bson.D{{Key: "_id", Value: int32(1)}, {Key: "det", Value: "foo"}, {Key: "rnd", Value: "foo"}}); !bytes.Equal(got, want) {
		t.Fatalf("auto-decrypted %s, want %s", got, bson.Raw(want))
	}
	expectServed("auto-decryption", 4)

	// The KMS's certificate is checked: without the CA in the TLS options the unwrap fails.
	noCA := options.ClientEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(providers)
	noCA.Opts = append(noCA.Opts, func(a *options.ClientEncryptionOptions) error { a.HTTPClient = httpClient; return nil })
	_, err = newKMSClientEncryption(t, noCA).Decrypt(ctx, blobs["FLE1RandomEncryptedValue"])
	wantKMSError(t, err, "aws")
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("error %v is not an unknown-authority certificate error", err)
	}
	expectServed("without the CA", 4)

	// The same data key made by libmongocrypt under the local KEK (96 zero bytes) decrypts the
	// same ciphertexts: the AWS and local documents hold one key.
	localDB := uniqueDB(t)
	t.Cleanup(func() { _ = plain.Database(localDB).Drop(context.Background()) })
	if _, err := plain.Database(localDB).Collection("datakeys").InsertOne(ctx, readTestdataExtJSON(t, "keys/ABCDEFAB123498761234123456789012-local-document.json")); err != nil {
		t.Fatal(err)
	}
	local := newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(localDB+".datakeys").
		SetKmsProviders(map[string]map[string]any{"local": {"key": make([]byte, 96)}}))
	for _, b := range blobs {
		checkDecrypt(t, local, b, rawValue(t, "foo"))
	}

	// Moving the libmongocrypt AWS keys to a local master key keeps them usable without AWS.
	if _, err := ce.RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local")); err == nil {
		t.Fatal("rewrap to a provider that is not configured succeeded")
	}
	both := map[string]map[string]any{"aws": providers["aws"], "local": {"key": localMasterKey}}
	o := options.ClientEncryption().SetKeyVaultNamespace(kvNS).SetKmsProviders(both).SetTLSConfig(tlsCfg)
	o.Opts = append(o.Opts, func(a *options.ClientEncryptionOptions) error { a.HTTPClient = httpClient; return nil })
	res, err := newKMSClientEncryption(t, o).RewrapManyDataKey(ctx, bson.D{}, options.RewrapManyDataKey().SetProvider("local"))
	if err != nil || res.ModifiedCount != int64(len(libmongocryptKeys)) {
		t.Fatalf("rewrap to local: %+v, %v", res, err)
	}
	expectServed("rewrap to local", 7)
	localOnly := newKMSClientEncryption(t, options.ClientEncryption().SetKeyVaultNamespace(kvNS).
		SetKmsProviders(map[string]map[string]any{"local": {"key": localMasterKey}}))
	for _, b := range blobs {
		checkDecrypt(t, localOnly, b, rawValue(t, "foo"))
	}
}
