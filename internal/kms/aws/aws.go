// Package aws is the "aws" KMS provider: data keys are wrapped by AWS KMS Encrypt and
// unwrapped by Decrypt (the TrentService JSON 1.1 API), with requests signed by AWS Signature
// Version 4 for the service "kms", as libmongocrypt does it.
//
// # Credentials
//
// The provider's document holds accessKeyId, secretAccessKey and an optional sessionToken.
// An empty document (for the unnamed provider "aws" only) asks for credentials on demand,
// fetched when a key is first wrapped or unwrapped: from the caller's
// [kms.Config.AWSCredentialsProvider] when set, else, in this order, from the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), from STS
// AssumeRoleWithWebIdentity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, optional
// AWS_ROLE_SESSION_NAME), from the ECS container endpoint
// (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) or from the EC2 instance metadata service (IMDSv2).
// Credentials that expire are cached until five minutes before they do; environment
// credentials are read again each time.
//
// The addresses of STS, ECS and EC2 metadata can be replaced through [kms.Config.Endpoints]
// with the keys [EndpointSTS], [EndpointECS] and [EndpointEC2] (values are base URLs such as
// "http://127.0.0.1:8080"); tests use this.
//
// # Master keys
//
// The masterKey document is {region, key, endpoint?}: key is the ARN (or alias) of the KMS
// key, endpoint an optional host[:port] that replaces kms.<region>.amazonaws.com.
package aws

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
	"github.com/mongocrypt-go/mongocrypt/internal/kms/kmshttp"
)

// Keys of [kms.Config.Endpoints] that replace the addresses of on-demand credential services.
const (
	// EndpointSTS replaces https://sts.amazonaws.com (AssumeRoleWithWebIdentity).
	EndpointSTS = "aws.sts"
	// EndpointECS replaces http://169.254.170.2 (ECS container credentials).
	EndpointECS = "aws.ecs"
	// EndpointEC2 replaces http://169.254.169.254 (EC2 instance metadata, IMDSv2).
	EndpointEC2 = "aws.ec2"
)

// Operation names used in [kms.Error].
const (
	OpEncrypt     = "encrypt"
	OpDecrypt     = "decrypt"
	OpCredentials = "credentials"
)

const (
	service     = "kms"
	contentType = "application/x-amz-json-1.1"
	targetEnc   = "TrentService.Encrypt"
	targetDec   = "TrentService.Decrypt"
	// maxKeyMaterial caps the size of wrapped key material sent to Decrypt (AWS ciphertext
	// blobs are at most 6 KiB).
	maxKeyMaterial = 6144
)

// Provider wraps data keys with AWS KMS.
type Provider struct {
	name   string
	client *http.Client
	// static credentials; nil when fetched on demand.
	static *Credentials
	chain  *credentialChain
	// now is the clock used for request dates; tests replace it.
	now func() time.Time
}

var _ kms.Provider = (*Provider)(nil)

// Credentials are AWS credentials: an access key pair and an optional session token.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is when temporary credentials expire; zero if they do not.
	Expires time.Time
}

// New builds the aws provider named cfg.Name from cfg.
func New(cfg kms.Config) (kms.Provider, error) {
	return newProvider(cfg, os.Getenv)
}

func newProvider(cfg kms.Config, getenv func(string) string) (*Provider, error) {
	client, onDemand, err := kmshttp.Setup(cfg, kms.TypeAWS)
	if err != nil {
		return nil, err
	}
	p := &Provider{name: cfg.Name, client: client, now: time.Now}
	if onDemand {
		p.chain = newCredentialChain(client, cfg.AWSCredentialsProvider, cfg.Endpoints, getenv)
		return p, nil
	}
	if cfg.AWSCredentialsProvider != nil {
		return nil, errors.New("an AWS credentials provider can only be used when the aws KMS provider document is empty (on-demand credentials)")
	}
	c, err := parseCredentials(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	p.static = c
	return p, nil
}

// parseCredentials reads {accessKeyId, secretAccessKey, sessionToken?}.
func parseCredentials(raw bson.Raw) (*Credentials, error) {
	d, err := kmshttp.NewDoc(raw, "credentials")
	if err != nil {
		return nil, err
	}
	var c Credentials
	if c.AccessKeyID, err = d.RequiredString("accessKeyId"); err != nil {
		return nil, err
	}
	if c.SecretAccessKey, err = d.RequiredString("secretAccessKey"); err != nil {
		return nil, err
	}
	if c.SessionToken, _, err = d.OptionalString("sessionToken"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("accessKeyId", "secretAccessKey", "sessionToken"); err != nil {
		return nil, err
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return nil, errors.New("credentials: accessKeyId and secretAccessKey must not be empty")
	}
	return &c, nil
}

// Name returns the provider name: "aws" or "aws:<name>".
func (p *Provider) Name() string { return p.name }

// masterKey is an aws masterKey document.
type masterKey struct {
	region   string
	key      string
	endpoint *kmshttp.Endpoint
}

// parseMasterKey reads {provider?, region, key, endpoint?} with libmongocrypt's rules.
func (p *Provider) parseMasterKey(raw bson.Raw) (*masterKey, error) {
	d, err := kmshttp.MasterKeyDoc(raw, p.name)
	if err != nil {
		return nil, err
	}
	var mk masterKey
	if mk.key, err = d.RequiredString("key"); err != nil {
		return nil, err
	}
	if mk.region, err = d.RequiredString("region"); err != nil {
		return nil, err
	}
	if mk.endpoint, err = d.OptionalEndpoint("endpoint"); err != nil {
		return nil, err
	}
	if err := d.CheckAllowed("provider", "key", "region", "endpoint"); err != nil {
		return nil, err
	}
	return &mk, nil
}

// stored returns the masterKey document libmongocrypt writes:
// {provider, region, key, endpoint?}.
func (mk *masterKey) stored(provider string) (bson.Raw, error) {
	d := bson.D{{Key: "provider", Value: provider}, {Key: "region", Value: mk.region}, {Key: "key", Value: mk.key}}
	if mk.endpoint != nil {
		d = append(d, bson.E{Key: "endpoint", Value: mk.endpoint.HostAndPort()})
	}
	return bson.Marshal(d)
}

// hostAndURL returns the Host header value and the URL of the KMS for mk.
func (mk *masterKey) hostAndURL() (host, url string) {
	if mk.endpoint != nil {
		host = mk.endpoint.HostAndPort()
	} else {
		host = service + "." + mk.region + ".amazonaws.com"
	}
	return host, "https://" + host + "/"
}

func (p *Provider) fail(op string, err error) error {
	return &kms.Error{Provider: p.name, Op: op, Err: err}
}

// Wrap encrypts dek with the KMS key mk.key and returns the ciphertext blob.
func (p *Provider) Wrap(ctx context.Context, masterKeyDoc bson.Raw, dek []byte) ([]byte, bson.Raw, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, nil, p.fail(OpEncrypt, err)
	}
	if len(dek) == 0 {
		return nil, nil, p.fail(OpEncrypt, errors.New("empty data key"))
	}
	stored, err := mk.stored(p.name)
	if err != nil {
		return nil, nil, p.fail(OpEncrypt, err)
	}
	out, err := p.call(ctx, mk, OpEncrypt, encryptPayload(dek, mk.key), targetEnc, "CiphertextBlob")
	if err != nil {
		return nil, nil, err
	}
	if len(out) == 0 {
		return nil, nil, p.fail(OpEncrypt, errors.New("malformed reply: empty CiphertextBlob"))
	}
	return out, stored, nil
}

// Unwrap decrypts keyMaterial, a ciphertext blob made by Wrap (or libmongocrypt).
func (p *Provider) Unwrap(ctx context.Context, masterKeyDoc bson.Raw, keyMaterial []byte) ([]byte, error) {
	mk, err := p.parseMasterKey(masterKeyDoc)
	if err != nil {
		return nil, p.fail(OpDecrypt, err)
	}
	if len(keyMaterial) == 0 || len(keyMaterial) > maxKeyMaterial {
		return nil, p.fail(OpDecrypt, fmt.Errorf("key material of %d bytes: want 1..%d", len(keyMaterial), maxKeyMaterial))
	}
	dek, err := p.call(ctx, mk, OpDecrypt, decryptPayload(keyMaterial), targetDec, "Plaintext")
	if err != nil {
		return nil, err
	}
	if len(dek) != kms.DataKeyLen {
		return nil, &kms.Error{Provider: p.name, Op: OpDecrypt, Status: http.StatusOK, Err: fmt.Errorf("malformed reply: decrypted data key has %d bytes, want %d", len(dek), kms.DataKeyLen)}
	}
	return dek, nil
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// encryptPayload is the body of an Encrypt request:
//
//	{"Plaintext": "<base64 data key>", "KeyId": "<key>"}
func encryptPayload(plaintext []byte, keyID string) []byte {
	return []byte(`{"Plaintext": "` + base64.StdEncoding.EncodeToString(plaintext) + `", "KeyId": ` + jsonString(keyID) + `}`)
}

// decryptPayload is the body of a Decrypt request: {"CiphertextBlob": "<base64 blob>"}.
func decryptPayload(blob []byte) []byte {
	return []byte(`{"CiphertextBlob": "` + base64.StdEncoding.EncodeToString(blob) + `"}`)
}

// newKMSRequest returns the request kms-message builds for a TrentService call, before the
// credentials, region and Host are set.
func newKMSRequest(t time.Time, target string, payload []byte) *sigv4Request {
	r := newSigV4Request(http.MethodPost, "/", t)
	r.addHeader("Content-Type", contentType)
	r.addHeader("X-Amz-Target", target)
	r.payload = payload
	return r
}

// call sends a signed TrentService request and returns the base64-decoded string field
// resultField of the reply.
func (p *Provider) call(ctx context.Context, mk *masterKey, op string, payload []byte, target, resultField string) ([]byte, error) {
	creds, err := p.credentials(ctx)
	if err != nil {
		return nil, err
	}
	host, url := mk.hostAndURL()
	newReq := func(ctx context.Context) (*http.Request, error) {
		sr := newKMSRequest(p.now(), target, payload)
		if creds.SessionToken != "" {
			sr.addHeader("X-Amz-Security-Token", creds.SessionToken)
		}
		sr.addHeader("Host", host)
		sr.region, sr.service = mk.region, service
		sr.accessKeyID, sr.secretKey = creds.AccessKeyID, creds.SecretAccessKey
		authz, err := sr.authorization()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		for _, h := range sr.headers {
			switch h.name {
			case "Host":
				req.Host = h.value
			case "Content-Length":
				// set by the transport from ContentLength, which NewRequest set
			default:
				req.Header.Set(h.name, h.value)
			}
		}
		req.Header.Set("Authorization", authz)
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	body, err := kms.Do(ctx, p.client, kms.Request{Provider: p.name, Op: op, New: newReq, Retryable: kms.RetryableAWS})
	if err != nil {
		if p.chain != nil {
			var ke *kms.Error
			if errors.As(err, &ke) && (ke.Status == http.StatusBadRequest || ke.Status == http.StatusForbidden) {
				// Credentials may have been refused: fetch them again next time.
				p.chain.forget()
			}
		}
		return nil, err
	}
	return decodeResult(p.name, op, body, resultField)
}

// decodeResult reads the base64 string field of a TrentService reply.
func decodeResult(provider, op string, body []byte, field string) ([]byte, error) {
	s, err := kmshttp.ReplyString(body, field)
	if err != nil {
		return nil, &kms.Error{Provider: provider, Op: op, Status: http.StatusOK, Err: err}
	}
	out, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &kms.Error{Provider: provider, Op: op, Status: http.StatusOK, Err: fmt.Errorf("malformed reply: %s is not valid base64", field)}
	}
	return out, nil
}

func (p *Provider) credentials(ctx context.Context) (*Credentials, error) {
	if p.static != nil {
		return p.static, nil
	}
	c, err := p.chain.get(ctx)
	if err != nil {
		return nil, p.fail(OpCredentials, err)
	}
	return c, nil
}

// CloseIdleConnections closes the connections kept open to the KMS between requests.
func (p *Provider) CloseIdleConnections() { p.client.CloseIdleConnections() }
