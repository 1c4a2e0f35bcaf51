package aws

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// replyBodies returns the bodies of the recorded AWS replies in testdata.
func replyBodies(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/kms-aws/*.txt")
	more, _ := filepath.Glob("testdata/keys/*-aws-decrypt-reply.txt")
	var out [][]byte
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
			out = append(out, b[i+2:])
		}
	}
	if len(out) < 5 {
		f.Fatalf("%d seed replies, want at least 5", len(out))
	}
	return out
}

// FuzzDecodeResult: any KMS reply body gives a result or an error, never a panic, and a
// result is the base64 of the field.
func FuzzDecodeResult(f *testing.F) {
	for _, b := range replyBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, field := range []string{"Plaintext", "CiphertextBlob"} {
			out, err := decodeResult("aws", OpDecrypt, body, field)
			if err == nil && out == nil {
				t.Fatal("nil result without error")
			}
		}
	})
}

// FuzzCredentialReplies: ECS/EC2 and STS credential replies never panic.
func FuzzCredentialReplies(f *testing.F) {
	f.Add([]byte(`{"Code":"Success","AccessKeyId":"a","SecretAccessKey":"s","Token":"t","Expiration":"2030-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"AccessKeyId":"a","SecretAccessKey":"s","Expiration":1900000000}`))
	f.Add([]byte(`{"AccessKeyId":"a"}`))
	f.Add([]byte(`{"AssumeRoleWithWebIdentityResponse":{"AssumeRoleWithWebIdentityResult":{"Credentials":{"AccessKeyId":"a","SecretAccessKey":"s","SessionToken":"t","Expiration":1900000000}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, parse := range []func(string, []byte) (*Credentials, error){parseInstanceCredentials, parseSTSReply} {
			c, err := parse("x", body)
			if err == nil && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
				t.Fatal("credentials without keys")
			}
		}
	})
}

// FuzzParseMasterKey: any masterKey bytes (a key document is untrusted) parse or fail; a
// parsed one is stored and parses again to the same document.
func FuzzParseMasterKey(f *testing.F) {
	seeds := []bson.D{
		{{Key: "provider", Value: "aws"}, {Key: "region", Value: "us-east-1"}, {Key: "key", Value: "arn:aws:kms:us-east-1:579766882180:key/89fcc2c4"}},
		{{Key: "region", Value: "r"}, {Key: "key", Value: "k"}, {Key: "endpoint", Value: "https://kms.example.com:8443/path"}},
		{{Key: "region", Value: "r"}, {Key: "key", Value: 5}},
	}
	for _, d := range seeds {
		b, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := &Provider{name: "aws"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		mk, err := p.parseMasterKey(doc)
		if err != nil {
			return
		}
		stored, err := mk.stored("aws")
		if err != nil {
			t.Fatal(err)
		}
		again, err := p.parseMasterKey(stored)
		if err != nil {
			t.Fatalf("stored masterKey %s does not parse: %v", bson.Raw(stored), err)
		}
		if s2, _ := again.stored("aws"); !bytes.Equal(s2, stored) {
			t.Fatal("stored masterKey not stable")
		}
	})
}
