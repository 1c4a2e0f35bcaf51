package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/aws/awstest"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmstest"
)

// credServer is a fake of the EC2 instance metadata service (IMDSv2), the ECS credentials
// endpoint and STS AssumeRoleWithWebIdentity, handing out the test KMS's credentials.
type credServer struct {
	*httptest.Server
	kms     *awstest.Server
	expires time.Time
	hits    atomic.Int32
	fail    atomic.Int32 // HTTP status to answer with, 0: none
}

const (
	ec2Token  = "imds-session-token"
	roleName  = "test-role"
	ecsURI    = "/v2/credentials/abc"
	webToken  = "web-identity-token"
	roleARN   = "arn:aws:iam::123456789012:role/test"
	roleSName = "session-name"
)

func startCredServer(t *testing.T, k *awstest.Server) *credServer {
	cs := &credServer{kms: k, expires: time.Now().Add(time.Hour)}
	creds := func(tokenField string) []byte {
		b, _ := json.Marshal(map[string]any{
			"Code": "Success", "AccessKeyId": k.AccessKeyID, "SecretAccessKey": k.SecretAccessKey,
			tokenField: k.SessionToken, "Expiration": cs.expires.UTC().Format(time.RFC3339),
		})
		return b
	}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.hits.Add(1)
		if code := cs.fail.Load(); code != 0 {
			w.WriteHeader(int(code))
			fmt.Fprint(w, "failure")
			return
		}
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				w.WriteHeader(400)
				return
			}
			fmt.Fprint(w, ec2Token)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/latest/meta-data/iam/security-credentials/"):
			if r.Header.Get("X-aws-ec2-metadata-token") != ec2Token {
				w.WriteHeader(401)
				return
			}
			switch strings.TrimPrefix(r.URL.Path, "/latest/meta-data/iam/security-credentials/") {
			case "":
				fmt.Fprint(w, roleName)
			case roleName:
				w.Write(creds("Token"))
			default:
				w.WriteHeader(404)
			}
		case r.Method == http.MethodGet && r.URL.Path == ecsURI:
			w.Write(creds("Token"))
		case r.Method == http.MethodPost && r.URL.Path == "/":
			q := r.URL.Query()
			if q.Get("Action") != "AssumeRoleWithWebIdentity" || q.Get("RoleArn") != roleARN ||
				q.Get("WebIdentityToken") != webToken || q.Get("RoleSessionName") != roleSName || q.Get("Version") != "2011-06-15" {
				w.WriteHeader(400)
				fmt.Fprintf(w, "bad query %s", r.URL.RawQuery)
				return
			}
			b, _ := json.Marshal(map[string]any{"AssumeRoleWithWebIdentityResponse": map[string]any{
				"AssumeRoleWithWebIdentityResult": map[string]any{"Credentials": map[string]any{
					"AccessKeyId": k.AccessKeyID, "SecretAccessKey": k.SecretAccessKey,
					"SessionToken": k.SessionToken, "Expiration": cs.expires.Unix(),
				}}}})
			w.Write(b)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(cs.Close)
	return cs
}

type customCreds struct {
	v   options.AWSCredentials
	err error
	n   int
}

func (c *customCreds) Retrieve(context.Context) (options.AWSCredentials, error) {
	c.n++
	return c.v, c.err
}

// TestOnDemandCredentials wraps and unwraps through local-kms with credentials fetched from
// each source of the chain; the test KMS checks that the fetched access key and session token
// are the ones used.
func TestOnDemandCredentials(t *testing.T) {
	k := awstest.Start(t, awstest.Options{AccessKeyID: "AKIDFETCHED", SecretAccessKey: "fetched-secret", SessionToken: "fetched-token"})
	arn := k.CreateKey(t)
	cs := startCredServer(t, k)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(webToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoints := map[string]string{EndpointEC2: cs.URL, EndpointECS: cs.URL, EndpointSTS: cs.URL}
	for _, tc := range []struct {
		name string
		env  map[string]string
		hits int32 // requests to the credential server for one fetch
	}{
		{"environment", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDFETCHED", "AWS_SECRET_ACCESS_KEY": "fetched-secret", "AWS_SESSION_TOKEN": "fetched-token"}, 0},
		{"web identity", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": roleARN, "AWS_ROLE_SESSION_NAME": roleSName}, 1},
		{"ECS", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ecsURI}, 1},
		{"EC2", nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := newProvider(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.D{}), TLS: k.TLSConfig(), Endpoints: endpoints},
				func(name string) string { return tc.env[name] })
			if err != nil {
				t.Fatal(err)
			}
			before := cs.hits.Load()
			dek := kmstest.DataKey(t)
			material, stored, err := p.Wrap(context.Background(), masterKeyFor(t, k, arn), dek)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Unwrap(context.Background(), stored, material)
			if err != nil || !bytes.Equal(got, dek) {
				t.Fatalf("unwrap: %v", err)
			}
			// Fetched credentials are cached: two KMS calls, one fetch.
			if n := cs.hits.Load() - before; n != tc.hits {
				t.Fatalf("%d credential requests, want %d", n, tc.hits)
			}
		})
	}

	t.Run("custom provider", func(t *testing.T) {
		c := &customCreds{v: options.AWSCredentials{AccessKeyID: "AKIDFETCHED", SecretAccessKey: "fetched-secret", SessionToken: "fetched-token"}}
		p, err := newProvider(kms.Config{Name: "aws", TLS: k.TLSConfig(), AWSCredentialsProvider: c, Endpoints: endpoints},
			func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		before := cs.hits.Load()
		if _, _, err := p.Wrap(context.Background(), masterKeyFor(t, k, arn), kmstest.DataKey(t)); err != nil {
			t.Fatal(err)
		}
		if c.n != 1 || cs.hits.Load() != before {
			t.Fatalf("custom provider called %d times, %d fetches", c.n, cs.hits.Load()-before)
		}
		c.err = errors.New("no credentials today")
		_, _, err = p.Wrap(context.Background(), masterKeyFor(t, k, arn), kmstest.DataKey(t))
		kmstest.AsKMSError(t, err, OpCredentials, 0)
		if !strings.Contains(err.Error(), "no credentials today") {
			t.Fatal(err)
		}
		if _, err := New(kms.Config{Name: "aws", Credentials: kmstest.Marshal(t, bson.M{"accessKeyId": "a", "secretAccessKey": "s"}), AWSCredentialsProvider: c}); err == nil {
			t.Fatal("custom provider accepted with static credentials")
		}
	})

	t.Run("expiring credentials are fetched again", func(t *testing.T) {
		p, err := newProvider(kms.Config{Name: "aws", TLS: k.TLSConfig(), Endpoints: endpoints}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		cs.expires = time.Now().Add(4 * time.Minute) // inside the 5-minute window
		defer func() { cs.expires = time.Now().Add(time.Hour) }()
		before := cs.hits.Load()
		for i := 0; i < 2; i++ {
			if _, _, err := p.Wrap(context.Background(), masterKeyFor(t, k, arn), kmstest.DataKey(t)); err != nil {
				t.Fatal(err)
			}
		}
		if n := cs.hits.Load() - before; n != 6 {
			t.Fatalf("%d credential requests, want 6 (two EC2 fetches)", n)
		}
	})

	t.Run("failures", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			env  map[string]string
			want string
		}{
			{"EC2 404", nil, "EC2 instance metadata token: HTTP 404"},
			{"ECS 500", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ecsURI}, "ECS container credentials: HTTP 500"},
			{"STS 403", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": roleARN}, "AssumeRoleWithWebIdentity: HTTP 403"},
			{"web identity without role", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile}, "must both be set"},
			{"missing token file", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile + "x", "AWS_ROLE_ARN": roleARN}, "reading AWS_WEB_IDENTITY_TOKEN_FILE"},
			{"half the environment", map[string]string{"AWS_ACCESS_KEY_ID": "a"}, "AWS_SECRET_ACCESS_KEY is not"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status := map[string]int32{"EC2 404": 404, "ECS 500": 500, "STS 403": 403}[tc.name]
				cs.fail.Store(status)
				defer cs.fail.Store(0)
				p, err := newProvider(kms.Config{Name: "aws", TLS: k.TLSConfig(), Endpoints: endpoints}, func(n string) string { return tc.env[n] })
				if err != nil {
					t.Fatal(err)
				}
				_, _, err = p.Wrap(context.Background(), masterKeyFor(t, k, arn), kmstest.DataKey(t))
				kmstest.AsKMSError(t, err, OpCredentials, 0)
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
			})
		}
	})

	t.Run("slow metadata times out", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		}))
		defer slow.Close()
		old := metadataTimeout
		metadataTimeout = 200 * time.Millisecond
		defer func() { metadataTimeout = old }()
		p, err := newProvider(kms.Config{Name: "aws", TLS: k.TLSConfig(), Endpoints: map[string]string{EndpointEC2: slow.URL}}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = p.Wrap(context.Background(), masterKeyFor(t, k, arn), kmstest.DataKey(t))
		kmstest.AsKMSError(t, err, OpCredentials, 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestCheckFetched covers the Expiration forms of credential replies.
func TestCheckFetched(t *testing.T) {
	for _, tc := range []struct {
		exp  string
		want time.Time
		ok   bool
	}{
		{`"2030-01-02T03:04:05Z"`, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{`1900000000`, time.Unix(1900000000, 0), true},
		{``, time.Time{}, true},
		{`null`, time.Time{}, true},
		{`"tomorrow"`, time.Time{}, false},
		{`-5`, time.Time{}, false},
		{`true`, time.Time{}, false},
	} {
		c, err := checkFetched("x", "a", "s", "t", json.RawMessage(tc.exp))
		if (err == nil) != tc.ok || (err == nil && !c.Expires.Equal(tc.want)) {
			t.Errorf("Expiration %s: %v %v", tc.exp, c, err)
		}
	}
	if _, err := checkFetched("x", "", "s", "", nil); err == nil {
		t.Error("empty access key accepted")
	}
}
