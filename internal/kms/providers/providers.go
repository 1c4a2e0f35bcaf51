// Package providers builds the set of KMS providers from the driver's kmsProviders option. Each
// provider type registers its constructor from a file of its own in this package.
package providers

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// constructor builds a provider of one type from its configuration.
type constructor func(cfg kms.Config) (kms.Provider, error)

// constructors maps a provider type ("aws") to its constructor.
var constructors = map[string]constructor{}

// register records the constructor of a provider type. It is called from init functions.
func register(typ string, c constructor) {
	if _, dup := constructors[typ]; dup {
		panic("providers: duplicate registration of " + typ)
	}
	constructors[typ] = c
}

// Options is what the driver's encryption options say about KMS providers.
type Options struct {
	// KMSProviders is the driver's kmsProviders option: provider name -> credentials.
	KMSProviders map[string]map[string]any
	// TLS is the driver's TLS configuration per provider name.
	TLS map[string]*tls.Config
	// HTTPClient is used by the HTTP providers.
	HTTPClient *http.Client
	// AWSCredentialsProvider supplies AWS credentials when the aws document is empty.
	AWSCredentialsProvider options.AWSCredentialsProvider
	// Endpoints overrides on-demand credential service endpoints (tests).
	Endpoints map[string]string
	// Encode encodes the credentials of a provider; nil is bson.Marshal.
	Encode func(v any) (bson.Raw, error)
}

// ErrAWSCredentialsProvider is the driver's refusal of an AWS credentials provider without
// on-demand AWS credentials (x/mongo/driver/mongocrypt/mongocrypt.go, NewMongoCrypt).
var ErrAWSCredentialsProvider = errors.New("can only provide a custom AWS credential provider " +
	"when the state machine is configured for automatic AWS credential fetching")

// New builds the providers named in o.KMSProviders. TLS options of a provider that is not
// configured are ignored, as the driver ignores them.
func New(o Options) (*kms.Set, error) {
	if o.AWSCredentialsProvider != nil {
		// The driver's condition: kmsProviders has "aws" and it is an empty document.
		if creds, ok := o.KMSProviders[kms.TypeAWS]; !ok || len(creds) != 0 {
			return nil, fmt.Errorf("%w: an AWSCredentialsProvider needs the KMS provider \"aws\" with an empty document (on-demand credentials)", ErrAWSCredentialsProvider)
		}
	}
	encode := o.Encode
	if encode == nil {
		encode = func(v any) (bson.Raw, error) { return bson.Marshal(v) }
	}
	names := make([]string, 0, len(o.KMSProviders))
	for name := range o.KMSProviders {
		names = append(names, name)
	}
	sort.Strings(names)
	ps := make([]kms.Provider, 0, len(names))
	for _, name := range names {
		typ, sub, err := kms.ParseName(name)
		if err != nil {
			return nil, err
		}
		creds := o.KMSProviders[name]
		if sub != "" && len(creds) == 0 {
			return nil, fmt.Errorf("KMS provider %q: a named provider needs credentials; on-demand credentials are only for unnamed providers", name)
		}
		raw, err := encode(creds)
		if err != nil {
			return nil, fmt.Errorf("KMS provider %q: credentials cannot be encoded as BSON: %w", name, err)
		}
		c, ok := constructors[typ]
		if !ok {
			return nil, fmt.Errorf("KMS provider %q: type %q is not supported by this build", name, typ)
		}
		if tc := o.TLS[name]; tc != nil {
			if err := CheckTLS(tc); err != nil {
				return nil, fmt.Errorf("KMS provider %q: %w", name, err)
			}
		}
		cfg := kms.Config{
			Name:        name,
			Credentials: raw,
			TLS:         o.TLS[name],
			HTTPClient:  o.HTTPClient,
			Endpoints:   o.Endpoints,
		}
		if name == kms.TypeAWS {
			// The driver gives the provider to the unnamed aws provider only.
			cfg.AWSCredentialsProvider = o.AWSCredentialsProvider
		}
		p, err := c(cfg)
		if err != nil {
			return nil, fmt.Errorf("KMS provider %q: %w", name, err)
		}
		ps = append(ps, p)
	}
	return kms.NewSet(ps...), nil
}

// CheckTLS refuses TLS settings that would disable certificate checks, as the specification
// requires (tlsInsecure, tlsAllowInvalidCertificates and tlsAllowInvalidHostnames are errors).
func CheckTLS(c *tls.Config) error {
	if c.InsecureSkipVerify {
		return fmt.Errorf("insecure TLS options are prohibited: InsecureSkipVerify is set")
	}
	return nil
}
