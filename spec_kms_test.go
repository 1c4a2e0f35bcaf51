package mongocrypt

// The KMS side of the conformance runner: kmsProviders placeholders replaced by credentials of
// the test servers, and an HTTP client that reaches the test servers under the real KMS host
// names the tests' masterKeys name (kms.us-east-1.amazonaws.com, ...).
//
// AWS: the keys of the specification's tests were made with a real AWS account. The test
// AWS KMS (awstest, local-kms) cannot decrypt a real AWS ciphertext, but libmongocrypt's test
// data holds AWS's recorded Decrypt reply for the keyMaterial that nearly every test uses
// (testdata/spec_libmongocrypt). A hook on the test server answers the Decrypt of exactly
// that keyMaterial with the recorded reply, after the request passed the server's own checks
// (the same request is first sent to awstest, which verifies the SigV4 signature, the
// credentials and the region). Every other request is local-kms's. Tests that need a key the
// hook cannot serve are listed in specRealKMS.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure/azuretest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/gcp/gcptest"
)

const (
	// specAWSSessionToken is the session token of the temporary AWS credentials.
	specAWSSessionToken = "spec-session-token"
	// specProbeHeader marks the copy of a request the hook sends to awstest for its checks.
	specProbeHeader = "X-Spec-Probe"
	// specGCPEmail is the service account of the GCP credentials.
	specGCPEmail = "spec-runner@mongocrypt-test.iam.gserviceaccount.com"
)

// specRecorded is a KMS reply recorded by libmongocrypt for one real AWS ciphertext.
type specRecorded struct {
	keyMaterial []byte
	reply       []byte // the JSON body
}

type specKMS struct {
	aws, awsTemp *awstest.Server
	azure        *azuretest.Server
	gcp          *gcptest.Server
	gcpKey       []byte
	recorded     specRecorded
	roots        *x509.CertPool
	keyRing      *specAWSKeyRing
	kmip         specKMIP
}

func newSpecKMS(t *testing.T) *specKMS {
	t.Helper()
	k := &specKMS{
		aws:     awstest.Start(t, awstest.Options{}),
		awsTemp: awstest.Start(t, awstest.Options{AccessKeyID: "ASIATEMP", SecretAccessKey: "temp-secret", SessionToken: specAWSSessionToken}),
		azure:   azuretest.Start(t),
		gcp:     gcptest.Start(t),
	}
	k.gcpKey = k.gcp.AddServiceAccount(t, specGCPEmail)
	k.gcp.CreateKeyVersion(t, specGCPKeyRing[0], specGCPKeyRing[1], specGCPKeyRing[2], specGCPKeyRing[3])
	k.azure.CreateKey(t, specAzureKey)
	k.roots = x509.NewCertPool()
	for _, c := range []*x509.Certificate{k.aws.Certificate(), k.awsTemp.Certificate(), k.azure.Certificate(), k.gcp.Certificate()} {
		k.roots.AddCert(c)
	}
	k.recorded = specLoadRecorded(t)
	k.keyRing = newSpecAWSKeyRing(t)
	k.aws.Before(k.awsHook(k.aws))
	k.awsTemp.Before(k.awsHook(k.awsTemp))
	k.azure.Before(k.azureHook)
	k.gcp.Before(k.gcpHook)
	return k
}

// specLoadRecorded reads libmongocrypt's AWS key document and the recorded Decrypt reply of its
// keyMaterial.
func specLoadRecorded(t *testing.T) specRecorded {
	t.Helper()
	keyJS, err := os.ReadFile("testdata/spec_libmongocrypt/key-document-full.json")
	if err != nil {
		t.Fatal(err)
	}
	var key bson.Raw
	if err := bson.UnmarshalExtJSON(keyJS, true, &key); err != nil {
		t.Fatal(err)
	}
	_, material, ok := key.Lookup("keyMaterial").BinaryOK()
	if !ok {
		t.Fatal("key-document-full.json has no keyMaterial")
	}
	replyTxt, err := os.ReadFile("testdata/spec_libmongocrypt/kms-aws/decrypt-response.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := bytes.Cut(bytes.ReplaceAll(replyTxt, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	if !ok {
		t.Fatal("decrypt-response.txt: no body")
	}
	body = bytes.TrimSpace(body)
	var check struct{ KeyId, Plaintext string }
	if err := json.Unmarshal(body, &check); err != nil || check.Plaintext == "" {
		t.Fatalf("decrypt-response.txt: %v", err)
	}
	return specRecorded{keyMaterial: material, reply: body}
}

// awsHook answers the Decrypt of the recorded keyMaterial, and gives the session-token
// failure of a temporary-credentials server AWS's wording. Everything else goes to awstest.
func (k *specKMS) awsHook(srv *awstest.Server) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get(specProbeHeader) != "" {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if srv.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != srv.SessionToken {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`)
			return true
		}
		target := r.Header.Get("X-Amz-Target")
		var in struct{ CiphertextBlob []byte }
		recorded := target == "TrentService.Decrypt" && json.Unmarshal(body, &in) == nil &&
			bytes.Equal(in.CiphertextBlob, k.recorded.keyMaterial) && r.Host == "kms.us-east-1.amazonaws.com"
		ring := (target == "TrentService.Encrypt" || target == "TrentService.Decrypt") && k.keyRing.owns(target, r.Host, body)
		if !recorded && !ring {
			return false
		}
		// The request must pass awstest's checks (signature, credentials, date, region):
		// local-kms then fails on the foreign key or ciphertext, which is the expected answer.
		status, probeBody, err := specProbe(srv, r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return true
		}
		if bytes.Contains(probeBody, []byte("InvalidSignatureException")) || status == http.StatusNotFound {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			w.Write(probeBody)
			return true
		}
		if ring {
			k.keyRing.serve(w, target, body)
			return true
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write(k.recorded.reply)
		return true
	}
}

// specProbe sends a copy of r to srv, marked so that the hook lets it through.
func specProbe(srv *awstest.Server, r *http.Request, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Set(specProbeHeader, "1")
	req.Host = r.Host
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// httpClient reaches the test servers under the AWS host names; temp chooses the server of
// temporary credentials. Other hosts are refused: they would be real cloud services.
func (k *specKMS) httpClient(temp bool) *http.Client {
	awsAddr := k.aws.Listener.Addr().String()
	if temp {
		awsAddr = k.awsTemp.Listener.Addr().String()
	}
	azureAddr, gcpAddr := k.azure.Listener.Addr().String(), k.gcp.Listener.Addr().String()
	routes := map[string]string{
		"kms.us-east-1.amazonaws.com:443": awsAddr,
		"kms.us-east-2.amazonaws.com:443": awsAddr,
		"login.microsoftonline.com:443":   azureAddr,
		specAzureVault + ":443":           azureAddr,
		"oauth2.googleapis.com:443":       gcpAddr,
		"cloudkms.googleapis.com:443":     gcpAddr,
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to, ok := routes[addr]
			if !ok {
				return nil, fmt.Errorf("spec runner: no test server for %s (a real cloud KMS endpoint)", addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, to)
		},
		// httptest servers share one certificate, valid for example.com and 127.0.0.1.
		TLSClientConfig: &tls.Config{RootCAs: k.roots, ServerName: "example.com"},
	}
	return &http.Client{Transport: tr}
}

func specIsPlaceholder(v bson.RawValue) bool {
	op, _, ok := specOperator(v)
	return ok && op == "$$placeholder"
}

// providers turns a test's kmsProviders into the driver's option, with a TLS configuration per
// provider where needed and the HTTP client of the test servers.
func (k *specKMS) providers(doc bson.Raw) (map[string]map[string]any, map[string]*tls.Config, *http.Client, error) {
	out := map[string]map[string]any{}
	tlsMap := map[string]*tls.Config{}
	temp := false
	elems, err := doc.Elements()
	if err != nil {
		return nil, nil, nil, err
	}
	for _, e := range elems {
		name := e.Key()
		creds, ok := e.Value().DocumentOK()
		if !ok {
			return nil, nil, nil, fmt.Errorf("kmsProviders.%s is not a document", name)
		}
		withToken := false
		switch name {
		case "awsTemporary":
			name, temp, withToken = "aws", true, true
		case "awsTemporaryNoSessionToken":
			name, temp = "aws", true
		}
		typ, _, _ := strings.Cut(name, ":")
		fill := map[string]any{}
		switch typ {
		case "aws":
			if temp {
				fill["accessKeyId"], fill["secretAccessKey"] = k.awsTemp.AccessKeyID, k.awsTemp.SecretAccessKey
				if withToken {
					fill["sessionToken"] = specAWSSessionToken
				}
			} else {
				fill["accessKeyId"], fill["secretAccessKey"] = k.aws.AccessKeyID, k.aws.SecretAccessKey
			}
		case "azure":
			fill["tenantId"], fill["clientId"], fill["clientSecret"] = k.azure.TenantID, k.azure.ClientID, k.azure.ClientSecret
			fill["accessToken"] = k.azure.IssueToken()
		case "gcp":
			fill["email"], fill["privateKey"] = specGCPEmail, base64.StdEncoding.EncodeToString(k.gcpKey)
			fill["accessToken"] = k.gcp.IssueToken()
		case "kmip":
			// Without a started PyKMIP, an address where nothing listens.
			fill["endpoint"] = "127.0.0.1:1"
			if addr, cfg, err := k.kmip.started(); err == nil && addr != "" {
				fill["endpoint"] = addr
				tlsMap[name] = cfg
			}
		case "local":
			fill["key"] = localMasterKey
		default:
			return nil, nil, nil, fmt.Errorf("kmsProviders.%s: unknown provider type", name)
		}
		m := map[string]any{}
		fields, _ := creds.Elements()
		if len(fields) == 0 { // legacy: an empty document asks for the credentials
			for f, v := range fill {
				if f != "accessToken" {
					m[f] = v
				}
			}
		}
		for _, f := range fields {
			v := f.Value()
			if specIsPlaceholder(v) {
				if typ == "aws" && f.Key() == "sessionToken" {
					temp = true
					fill["accessKeyId"], fill["secretAccessKey"] = k.awsTemp.AccessKeyID, k.awsTemp.SecretAccessKey
					m["accessKeyId"], m["secretAccessKey"] = k.awsTemp.AccessKeyID, k.awsTemp.SecretAccessKey
					m["sessionToken"] = specAWSSessionToken
					continue
				}
				x, ok := fill[f.Key()]
				if !ok {
					return nil, nil, nil, fmt.Errorf("kmsProviders.%s.%s: no value for this placeholder", name, f.Key())
				}
				if _, set := m[f.Key()]; !set {
					m[f.Key()] = x
				}
				continue
			}
			if typ == "aws" && f.Key() == "sessionToken" {
				// An explicit (bad) token goes to the server of temporary credentials.
				temp = true
				m["accessKeyId"], m["secretAccessKey"] = k.awsTemp.AccessKeyID, k.awsTemp.SecretAccessKey
			}
			switch v.Type {
			case bson.TypeString:
				m[f.Key()] = v.StringValue()
			case bson.TypeBinary:
				_, data, _ := v.BinaryOK()
				m[f.Key()] = data
			default:
				m[f.Key()] = v
			}
		}
		out[name] = m
	}
	return out, tlsMap, k.httpClient(temp), nil
}

// missing returns a skip when the case needs a KMS this runner cannot serve; it starts PyKMIP
// for the first case that creates or rewraps a key with a kmip provider.
func (k *specKMS) missing(t *testing.T, c *specCase) *specSkip {
	if !specRawContains(c.raw, `"kmsProvider": "kmip`, `"provider": "kmip`) {
		return nil
	}
	if _, _, err := k.kmip.start(t); err != nil {
		return &specSkip{class: "no KMIP server", reason: "creating a KMIP key needs the PyKMIP server: " + err.Error()}
	}
	return nil
}

// specRealKMS lists the tests that unwrap data keys made with the specification's own cloud and
// KMIP accounts, whose secrets are not public and for which no recorded KMS reply exists
// (suite/file without .json/test description, or suite/file/* for the whole file).
var specRealKMS = map[string]string{
	"legacy/azureKMS/*":  specRealAzure,
	"legacy/gcpKMS/*":    specRealGCP,
	"legacy/kmipKMS/*":   specRealKMIP,
	"unified/azureKMS/*": specRealAzure,
	"unified/gcpKMS/*":   specRealGCP,
	"unified/kmipKMS/*":  specRealKMIP,
	// accessToken-*: the token is the runner's, but the data key is the specification's.
	"unified/accessToken-azure/*": specRealAzure,
	"unified/accessToken-gcp/*":   specRealGCP,
	// The rewraps decrypt every key of the file but one: the Azure, GCP and KMIP keys and the
	// AWS key "YXdzYXdzYXdzYXdzYXdzYQ==" (whose keyMaterial has no recorded AWS reply).
	"unified/rewrapManyDataKey/rewrap with new AWS KMS provider":            specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with new Azure KMS provider":          specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with new GCP KMS provider":            specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with new KMIP KMS provider":           specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with new KMIP delegated KMS provider": specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with new local KMS provider":          specRealRewrap,
	"unified/rewrapManyDataKey/rewrap with current KMS provider":            specRealRewrap,
	"unified/namedKMS-rewrapManyDataKey/*":                                  specRealRewrap,
}

const (
	specRealAzure  = "the data key AZURE+AAAAAAAAAAAAAAAA== is wrapped by the specification's Azure Key Vault key"
	specRealGCP    = "the data key GCP+AAAAAAAAAAAAAAAAAA== is wrapped by the specification's GCP Cloud KMS key"
	specRealKMIP   = "the data keys are wrapped by secrets of the drivers' KMIP test server (SecretData \"1\", delegated key \"11\")"
	specRealRewrap = "the rewrap unwraps keys made with the specification's Azure, GCP and KMIP accounts and an AWS keyMaterial without recorded reply"
)

func specRealKMSSkip(c *specCase) *specSkip {
	base := c.suite + "/" + strings.TrimSuffix(c.file, ".json")
	for _, key := range []string{base + "/" + c.name, base + "/*"} {
		if why, ok := specRealKMS[key]; ok {
			return &specSkip{class: "needs the specification's own KMS key material: " + why,
				reason: "no test server can unwrap it and no recorded KMS reply exists"}
		}
	}
	return nil
}
