package providers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/azure/azuretest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/gcp/gcptest"
)

// TestHTTPProviders builds aws, azure and gcp providers, unnamed and named, each with its own
// credentials and TLS options, through New, and round-trips a data key through each test KMS.
func TestHTTPProviders(t *testing.T) {
	a1 := awstest.Start(t, awstest.Options{})
	a2 := awstest.Start(t, awstest.Options{AccessKeyID: "AKIDPROD", SecretAccessKey: "prod-secret"})
	z := azuretest.Start(t)
	zVersion := z.CreateKey(t, "k")
	g := gcptest.Start(t)
	g.CreateKeyVersion(t, "p", "global", "r", "k")
	gKey := g.AddServiceAccount(t, "sa@p.iam.gserviceaccount.com")

	set, err := New(Options{
		KMSProviders: map[string]map[string]any{
			"aws":      {"accessKeyId": a1.AccessKeyID, "secretAccessKey": a1.SecretAccessKey},
			"aws:prod": {"accessKeyId": a2.AccessKeyID, "secretAccessKey": a2.SecretAccessKey},
			"azure":    {"tenantId": z.TenantID, "clientId": z.ClientID, "clientSecret": z.ClientSecret, "identityPlatformEndpoint": z.Endpoint()},
			"azure:t":  {"accessToken": z.IssueToken()},
			"gcp":      {"email": "sa@p.iam.gserviceaccount.com", "privateKey": gKey, "endpoint": g.Endpoint()},
			"gcp:t":    {"accessToken": g.IssueToken()},
		},
		TLS: map[string]*tls.Config{
			"aws": a1.TLSConfig(), "aws:prod": a2.TLSConfig(), "azure": z.TLSConfig(), "azure:t": z.TLSConfig(),
			"gcp": g.TLSConfig(), "gcp:t": g.TLSConfig(),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn1, arn2 := a1.CreateKey(t), a2.CreateKey(t)
	cases := map[string]bson.D{
		"aws":      {{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn1}, {Key: "endpoint", Value: a1.Endpoint()}},
		"aws:prod": {{Key: "region", Value: awstest.Region}, {Key: "key", Value: arn2}, {Key: "endpoint", Value: a2.Endpoint()}},
		"azure":    {{Key: "keyVaultEndpoint", Value: z.Endpoint()}, {Key: "keyName", Value: "k"}, {Key: "keyVersion", Value: zVersion}},
		"azure:t":  {{Key: "keyVaultEndpoint", Value: z.Endpoint()}, {Key: "keyName", Value: "k"}},
		"gcp":      {{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: g.Endpoint()}},
		"gcp:t":    {{Key: "projectId", Value: "p"}, {Key: "location", Value: "global"}, {Key: "keyRing", Value: "r"}, {Key: "keyName", Value: "k"}, {Key: "endpoint", Value: g.Endpoint()}},
	}
	if len(set.Names()) != len(cases) {
		t.Fatalf("providers %v", set.Names())
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := set.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := bson.Marshal(mk)
			dek := make([]byte, kms.DataKeyLen)
			rand.Read(dek)
			material, stored, err := p.Wrap(context.Background(), raw, dek)
			if err != nil {
				t.Fatal(err)
			}
			if prov, _ := kms.ProviderOf(stored); prov != name {
				t.Fatalf("stored provider %q", prov)
			}
			got, err := p.Unwrap(context.Background(), stored, material)
			if err != nil || !bytes.Equal(got, dek) {
				t.Fatalf("unwrap: %v", err)
			}
		})
	}
	// The named aws provider's key is not reachable with the other's credentials.
	p, _ := set.Get("aws")
	raw, _ := bson.Marshal(cases["aws:prod"])
	if _, _, err := p.Wrap(context.Background(), raw, make([]byte, 96)); err == nil {
		t.Fatal("aws credentials accepted by the aws:prod KMS")
	}
	// On-demand credentials are refused for named providers.
	for _, name := range []string{"aws:x", "azure:x", "gcp:x"} {
		if _, err := New(Options{KMSProviders: map[string]map[string]any{name: {}}}); err == nil {
			t.Errorf("%s: on-demand credentials accepted", name)
		}
	}
}
