package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.yaml.in/yaml/v3"

	"github.com/mongocrypt-go/mongocrypt"
)

// defaultKeyVault is the key vault namespace MongoDB's documentation uses.
const defaultKeyVault = "encryption.__keyVault"

// Environment variables.
const (
	envURI          = "MONGODB_URI"
	envConfig       = "MONGOCRYPT_CONFIG"
	envKeyVault     = "MONGOCRYPT_KEY_VAULT"
	envLocalKey     = "MONGOCRYPT_LOCAL_KEY" // and MONGOCRYPT_LOCAL_KEY_<name> for "local:<name>"
	envAWSKeyID     = "AWS_ACCESS_KEY_ID"
	envAWSSecret    = "AWS_SECRET_ACCESS_KEY"
	envAWSToken     = "AWS_SESSION_TOKEN"
	envAzureTenant  = "AZURE_TENANT_ID"
	envAzureClient  = "AZURE_CLIENT_ID"
	envAzureSecret  = "AZURE_CLIENT_SECRET"
	maxConfigBytes  = 1 << 20
	maxSecretBytes  = 1 << 20
	defaultConnWait = 10 * time.Second
)

// publicFields are the kmsProviders and tlsOptions fields whose values may be printed (they
// name endpoints, tenants and files); every other value is treated as a secret.
var publicFields = map[string]bool{
	"endpoint": true, "identityPlatformEndpoint": true, "tenantId": true, "clientId": true, "email": true,
	"tlsCAFile": true, "caFile": true, "tlsCertificateKeyFile": true, "certificateKeyFile": true,
}

const connEnvHelp = `
Environment (flags win over the environment, which wins over the configuration file):
  MONGODB_URI              the connection string (--uri)
  MONGOCRYPT_CONFIG        the configuration file (--config)
  MONGOCRYPT_KEY_VAULT     the key vault namespace (--key-vault)
  MONGOCRYPT_LOCAL_KEY     the 96-byte local master key, base64 (provider "local");
                           MONGOCRYPT_LOCAL_KEY_<name> is the key of "local:<name>"
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   provider "aws"
  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET         provider "azure"
Secrets are never printed. Run "mongocrypt help config" for the configuration file.
`

var configHelp = `mongocrypt configuration

The server, the key vault and the KMS providers are read from, in this order of precedence:
flags, environment variables, and a configuration file named by --config or MONGOCRYPT_CONFIG.

Configuration file (YAML, or JSON when the name ends in .json). The kmsProviders and
tlsOptions maps have the shape of the driver's kmsProviders and of the per-provider TLS
options of the other drivers' ClientEncryption:

  uri: mongodb://localhost:27017
  keyVaultNamespace: encryption.__keyVault
  kmsProviders:
    local:                       # a 96-byte master key, base64
      key: 4Rs9...
    local:old:                   # named providers: "<type>:<name>"
      key: Zm9v...
    aws:                         # "aws: {}" fetches on-demand credentials (environment,
      accessKeyId: AKIA...       #  ECS, EC2 instance role) when the key needs them
      secretAccessKey: ...
      sessionToken: ...          # optional
    azure:
      tenantId: ...
      clientId: ...
      clientSecret: ...
    gcp:
      email: ...@....iam.gserviceaccount.com
      privateKey: MIIEv...       # base64 PKCS#8, as in the driver
    kmip:
      endpoint: kmip.example.com:5696
  tlsOptions:                    # per KMS provider, the driver's TLS option names
    kmip:
      tlsCAFile: /etc/ssl/kmip-ca.pem
      tlsCertificateKeyFile: /etc/ssl/kmip-client.pem
      tlsCertificateKeyFilePassword: ...   # optional
  (caFile, certificateKeyFile and certificateKeyFilePassword are accepted too)

  # Automatic encryption, read by "mongocrypt proxy" (documents in MongoDB Extended JSON):
  schemaMap:                     # CSFLE: namespace -> $jsonSchema
    hr.people:
      bsonType: object
      properties:
        ssn:
          encrypt:
            keyId: [{"$uuid": "6fa9c1d2-..."}]
            bsonType: string
            algorithm: AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic
  encryptedFieldsMap:            # Queryable Encryption: namespace -> encryptedFields
    hr.patients:
      fields: [{path: ssn, bsonType: string, keyId: {"$uuid": "..."}, queries: {queryType: equality}}]
  bypassQueryAnalysis: false
  keyExpirationMS: 60000         # how long data keys stay cached (0: until exit)

Flags:
  --uri URI                 the connection string
  --key-vault DB.COLL       the key vault namespace (default encryption.__keyVault)
  --config FILE             the configuration file
  --kms NAME.FIELD=VALUE    sets kmsProviders.NAME.FIELD; VALUE "@FILE" reads the file (a
                            local key file may hold the 96 raw bytes or their base64)
  --kms-tls NAME.OPTION=VALUE   sets tlsOptions.NAME.OPTION
  --connect-timeout D       how long to look for a server (default 10s)
  --timeout D               a deadline for the whole command (default none)

Example:
  MONGOCRYPT_LOCAL_KEY_new=$(base64 -w0 new-master-key.bin) mongocrypt keys rewrap \
    --config mongocrypt.yaml --filter '{"masterKey.provider":"local"}' --provider local:new
` + connEnvHelp

// connFlagNames are the flags addConnFlags declares, for the help.
var connFlagNames = map[string]bool{
	"uri": true, "key-vault": true, "config": true, "kms": true, "kms-tls": true,
	"connect-timeout": true, "timeout": true,
}

// connFlags are the connection and KMS flags of the commands that talk to a server.
type connFlags struct {
	uri, keyVault, config string
	kms, kmsTLS           stringList
	connectTimeout        time.Duration
	timeout               time.Duration
	fs                    *flag.FlagSet
}

func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{fs: fs}
	fs.StringVar(&c.uri, "uri", "", "the MongoDB connection `URI` (environment: MONGODB_URI)")
	fs.StringVar(&c.keyVault, "key-vault", "", "the key vault namespace `DB.COLL` (environment: MONGOCRYPT_KEY_VAULT;\ndefault "+defaultKeyVault+")")
	fs.StringVar(&c.config, "config", "", "the YAML or JSON configuration `FILE` (environment: MONGOCRYPT_CONFIG)")
	fs.Var(&c.kms, "kms", "sets kmsProviders.NAME.FIELD; \"@FILE\" reads the value from a file; repeatable\n(`NAME.FIELD=VALUE`, e.g. local.key=@master-key.bin or kmip.endpoint=host:5696)")
	fs.Var(&c.kmsTLS, "kms-tls", "sets the TLS option of a KMS provider; repeatable\n(`NAME.OPTION=VALUE`, e.g. kmip.tlsCAFile=ca.pem)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", defaultConnWait, "how long to look for a server (a `DURATION` such as 10s)")
	fs.DurationVar(&c.timeout, "timeout", 0, "a deadline for the whole command (a `DURATION`; 0: none)")
	return c
}

// secrets returns the secret values given on the command line, to be redacted.
func (c *connFlags) secrets() []string {
	var s []string
	s = append(s, uriSecrets(c.uri)...)
	for _, kv := range append(append([]string(nil), c.kms...), c.kmsTLS...) {
		lhs, v, ok := strings.Cut(kv, "=")
		_, field, _ := strings.Cut(lhs, ".")
		if ok && !publicFields[field] && !strings.HasPrefix(v, "@") {
			s = append(s, v)
		}
	}
	return s
}

// envSecrets returns the secret values of the environment, to be redacted.
func envSecrets(a *app) []string {
	s := uriSecrets(a.getenv(envURI))
	for _, name := range []string{envAWSKeyID, envAWSSecret, envAWSToken, envAzureSecret} {
		if v := a.getenv(name); v != "" {
			s = append(s, v)
		}
	}
	for _, kv := range a.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envLocalKey) && v != "" {
			s = append(s, v)
		}
	}
	return s
}

// uriSecrets returns the password of a connection string, as written and decoded.
func uriSecrets(uri string) []string {
	_, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return nil
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return nil
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok || pw == "" {
		return nil
	}
	s := []string{pw}
	if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
		s = append(s, dec)
	}
	return s
}

// redactURI hides the password of a connection string.
func redactURI(uri string) string {
	for _, pw := range uriSecrets(uri) {
		uri = strings.ReplaceAll(uri, ":"+pw+"@", ":[redacted]@")
	}
	return uri
}

// settings are the resolved connection and KMS settings.
type settings struct {
	uri          string
	keyVault     string
	kmsProviders map[string]map[string]any
	tlsOptions   map[string]map[string]any
	// From the configuration file only: the automatic encryption settings of the proxy.
	schemaMap, encryptedFieldsMap map[string]bson.Raw
	bypassQueryAnalysis           bool
	keyExpirationMS               *int64
}

// load resolves the settings from the flags, the environment and the configuration file.
func (c *connFlags) load(a *app) (*settings, error) {
	s := &settings{kmsProviders: map[string]map[string]any{}, tlsOptions: map[string]map[string]any{}}
	path := c.config
	if path == "" {
		path = a.getenv(envConfig)
	}
	if path != "" {
		fc, err := readConfigFile(path)
		if err != nil {
			return nil, err
		}
		a.secrets = append(a.secrets, fc.secrets()...)
		s.uri, s.keyVault = fc.uri, fc.keyVault
		s.schemaMap, s.encryptedFieldsMap = fc.schemaMap, fc.encryptedFieldsMap
		s.bypassQueryAnalysis, s.keyExpirationMS = fc.bypassQueryAnalysis, fc.keyExpirationMS
		mergeInto(s.kmsProviders, fc.kmsProviders)
		mergeInto(s.tlsOptions, fc.tlsOptions)
	}

	// The environment.
	if v := a.getenv(envURI); v != "" {
		s.uri = v
	}
	if v := a.getenv(envKeyVault); v != "" {
		s.keyVault = v
	}
	for _, kv := range a.environ() {
		k, v, _ := strings.Cut(kv, "=")
		if v == "" || !strings.HasPrefix(k, envLocalKey) {
			continue
		}
		switch name := strings.TrimPrefix(k, envLocalKey); {
		case name == "":
			setField(s.kmsProviders, "local", "key", v)
		case strings.HasPrefix(name, "_") && len(name) > 1:
			setField(s.kmsProviders, "local:"+name[1:], "key", v)
		}
	}
	if id, secret := a.getenv(envAWSKeyID), a.getenv(envAWSSecret); id != "" && secret != "" {
		setField(s.kmsProviders, "aws", "accessKeyId", id)
		setField(s.kmsProviders, "aws", "secretAccessKey", secret)
		if tok := a.getenv(envAWSToken); tok != "" {
			setField(s.kmsProviders, "aws", "sessionToken", tok)
		}
	}
	if t, id, secret := a.getenv(envAzureTenant), a.getenv(envAzureClient), a.getenv(envAzureSecret); t != "" && id != "" && secret != "" {
		setField(s.kmsProviders, "azure", "tenantId", t)
		setField(s.kmsProviders, "azure", "clientId", id)
		setField(s.kmsProviders, "azure", "clientSecret", secret)
	}

	// The flags.
	if c.uri != "" {
		s.uri = c.uri
	}
	if c.keyVault != "" {
		s.keyVault = c.keyVault
	}
	for _, kv := range c.kms {
		name, field, val, err := splitSetting(kv, "--kms")
		if err != nil {
			return nil, err
		}
		v, err := flagValue(a, name, field, val)
		if err != nil {
			return nil, err
		}
		setField(s.kmsProviders, name, field, v)
	}
	for _, kv := range c.kmsTLS {
		name, opt, val, err := splitSetting(kv, "--kms-tls")
		if err != nil {
			return nil, err
		}
		setField(s.tlsOptions, name, opt, val)
	}

	if s.uri == "" {
		return nil, usagef("no server: give --uri, set %s, or put uri in the configuration file", envURI)
	}
	if s.keyVault == "" {
		s.keyVault = defaultKeyVault
	}
	if db, coll, ok := strings.Cut(s.keyVault, "."); !ok || db == "" || coll == "" {
		return nil, usagef("the key vault namespace %q must be DB.COLLECTION", s.keyVault)
	}
	return s, nil
}

// splitSetting splits "NAME.FIELD=VALUE" without ever printing VALUE.
func splitSetting(kv, flagName string) (name, field, val string, err error) {
	lhs, val, ok := strings.Cut(kv, "=")
	if ok {
		name, field, ok = strings.Cut(lhs, ".")
	}
	if !ok || name == "" || field == "" || strings.Contains(field, ".") {
		// Only the part before "=" is shown: the value may be a secret.
		return "", "", "", usagef("%s %q...: want NAME.FIELD=VALUE", flagName, lhs)
	}
	return name, field, val, nil
}

// flagValue reads a --kms value: "@FILE" reads the file. A local master key file may hold the
// 96 raw bytes (as the driver tutorials write it) or their base64 text.
func flagValue(a *app, provider, field, val string) (any, error) {
	path, isFile := strings.CutPrefix(val, "@")
	if !isFile {
		return val, nil
	}
	b, err := readLimited(path, maxSecretBytes)
	if err != nil {
		return nil, fmt.Errorf("reading kmsProviders.%s.%s: %w", provider, field, err)
	}
	if strings.HasPrefix(provider, "local") && field == "key" && len(b) == 96 {
		a.secrets = append(a.secrets, base64.StdEncoding.EncodeToString(b))
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if !publicFields[field] {
		a.secrets = append(a.secrets, s)
	}
	return s, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func setField(m map[string]map[string]any, name, field string, v any) {
	if m[name] == nil {
		m[name] = map[string]any{}
	}
	m[name][field] = v
}

func mergeInto(dst, src map[string]map[string]any) {
	for name, fields := range src {
		if dst[name] == nil {
			dst[name] = map[string]any{}
		}
		for k, v := range fields {
			dst[name][k] = v
		}
	}
}

// fileConfig is the content of a configuration file.
type fileConfig struct {
	uri, keyVault string
	kmsProviders  map[string]map[string]any
	tlsOptions    map[string]map[string]any
	// The automatic encryption settings, read by the proxy: namespace -> document (Extended
	// JSON in the file), and the two scalars.
	schemaMap, encryptedFieldsMap map[string]bson.Raw
	bypassQueryAnalysis           bool
	keyExpirationMS               *int64
}

func (fc *fileConfig) secrets() []string {
	s := uriSecrets(fc.uri)
	for _, m := range []map[string]map[string]any{fc.kmsProviders, fc.tlsOptions} {
		for _, fields := range m {
			for k, v := range fields {
				if str, ok := v.(string); ok && !publicFields[k] {
					s = append(s, str)
				}
			}
		}
	}
	return s
}

// readConfigFile reads a YAML or JSON configuration file. The file is decoded into generic
// values first and checked field by field, so that an error names the field and never shows
// its value (which may be a secret).
func readConfigFile(path string) (*fileConfig, error) {
	b, err := readLimited(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	var doc any
	if strings.EqualFold(filepath.Ext(path), ".json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("configuration file %s: not valid JSON: %w", path, jsonSyntaxOnly(err))
		}
		if dec.More() {
			return nil, fmt.Errorf("configuration file %s: not valid JSON: data after the document", path)
		}
	} else if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("configuration file %s: not valid YAML: %w", path, err)
	}
	fc := &fileConfig{}
	if doc == nil {
		return fc, nil
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("configuration file %s: the top level must be a mapping", path)
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := top[k]
		switch k {
		case "uri", "keyVaultNamespace":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("configuration file %s: %s must be a string", path, k)
			}
			if k == "uri" {
				fc.uri = s
			} else {
				fc.keyVault = s
			}
		case "kmsProviders", "tlsOptions":
			m, err := twoLevels(v, k)
			if err != nil {
				return nil, fmt.Errorf("configuration file %s: %w", path, err)
			}
			if k == "kmsProviders" {
				fc.kmsProviders = m
			} else {
				fc.tlsOptions = m
			}
		case "schemaMap", "encryptedFieldsMap":
			m, err := namespaceDocs(v, k)
			if err != nil {
				return nil, fmt.Errorf("configuration file %s: %w", path, err)
			}
			if k == "schemaMap" {
				fc.schemaMap = m
			} else {
				fc.encryptedFieldsMap = m
			}
		case "bypassQueryAnalysis":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("configuration file %s: bypassQueryAnalysis must be true or false", path)
			}
			fc.bypassQueryAnalysis = b
		case "keyExpirationMS":
			var n int64
			switch x := v.(type) {
			case int:
				n = int64(x)
			case int64:
				n = x
			case uint64:
				n = int64(x)
			case float64:
				n = int64(x)
				if float64(n) != x {
					return nil, fmt.Errorf("configuration file %s: keyExpirationMS must be a whole number of milliseconds", path)
				}
			default:
				return nil, fmt.Errorf("configuration file %s: keyExpirationMS must be a number of milliseconds", path)
			}
			if n < 0 {
				return nil, fmt.Errorf("configuration file %s: keyExpirationMS must not be negative", path)
			}
			fc.keyExpirationMS = &n
		default:
			return nil, fmt.Errorf("configuration file %s: unknown field %q (known: uri, keyVaultNamespace, kmsProviders, tlsOptions, schemaMap, encryptedFieldsMap, bypassQueryAnalysis, keyExpirationMS)", path, k)
		}
	}
	return fc, nil
}

// namespaceDocs reads a map of namespaces ("db.coll") to documents, each written as YAML or
// JSON in MongoDB Extended JSON ({"$binary": ...}, {"$uuid": "..."} for key ids).
func namespaceDocs(v any, what string) (map[string]bson.Raw, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping of namespaces (db.collection) to documents", what)
	}
	out := make(map[string]bson.Raw, len(m))
	for ns, doc := range m {
		if db, coll, ok := strings.Cut(ns, "."); !ok || db == "" || coll == "" {
			return nil, fmt.Errorf("%s: the namespace %q must be db.collection", what, ns)
		}
		if _, ok := doc.(map[string]any); !ok {
			return nil, fmt.Errorf("%s.%s must be a document", what, ns)
		}
		j, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", what, ns, jsonSyntaxOnly(err))
		}
		var raw bson.Raw
		if err := bson.UnmarshalExtJSON(j, false, &raw); err != nil {
			return nil, fmt.Errorf("%s.%s is not a valid Extended JSON document", what, ns)
		}
		out[ns] = raw
	}
	return out, nil
}

// jsonSyntaxOnly keeps the position of a JSON error and drops any value it quotes.
func jsonSyntaxOnly(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	return errors.New("malformed document")
}

// twoLevels checks a map of providers to maps of string settings.
func twoLevels(v any, what string) (map[string]map[string]any, error) {
	outer, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping of provider names to settings", what)
	}
	m := make(map[string]map[string]any, len(outer))
	for name, fields := range outer {
		if fields == nil {
			m[name] = map[string]any{}
			continue
		}
		inner, ok := fields.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.%s must be a mapping of settings", what, name)
		}
		m[name] = make(map[string]any, len(inner))
		for k, val := range inner {
			s, ok := val.(string)
			if !ok {
				return nil, fmt.Errorf("%s.%s.%s must be a string", what, name, k)
			}
			m[name][k] = s
		}
	}
	return m, nil
}

// tlsAliases maps the short TLS option names to the driver's.
var tlsAliases = map[string]string{
	"caFile":                     "tlsCAFile",
	"certificateKeyFile":         "tlsCertificateKeyFile",
	"certificateKeyFilePassword": "tlsCertificateKeyFilePassword",
}

// tlsConfigs builds the per-provider TLS configurations with the driver's BuildTLSConfig.
func (s *settings) tlsConfigs() (map[string]*tls.Config, error) {
	if len(s.tlsOptions) == 0 {
		return nil, nil
	}
	// The library ignores the TLS options of a provider that is not configured, as the driver
	// does; here they are a mistake of the command line or the file (a misspelt name), told.
	names := make([]string, 0, len(s.tlsOptions))
	for name := range s.tlsOptions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := s.kmsProviders[name]; !ok {
			return nil, fmt.Errorf("TLS options given for KMS provider %q, which is not configured", name)
		}
	}
	out := make(map[string]*tls.Config, len(s.tlsOptions))
	for name, opts := range s.tlsOptions {
		norm := make(map[string]any, len(opts))
		for k, v := range opts {
			if long, ok := tlsAliases[k]; ok {
				k = long
			}
			norm[k] = v
		}
		c, err := options.BuildTLSConfig(norm)
		if err != nil {
			return nil, fmt.Errorf("TLS options of KMS provider %q: %w", name, err)
		}
		out[name] = c
	}
	return out, nil
}

// session is an open connection to the key vault.
type session struct {
	client *mongo.Client
	ce     *mongocrypt.ClientEncryption
	kv     *mongo.Collection // the key vault collection, for filtered reads
	ns     string
	set    *settings
}

// open connects to the server and builds the ClientEncryption.
func (c *connFlags) open(ctx context.Context, a *app) (*session, error) {
	set, err := c.load(a)
	if err != nil {
		return nil, err
	}
	tlsConfigs, err := set.tlsConfigs()
	if err != nil {
		return nil, err
	}
	copts := options.Client().SetServerSelectionTimeout(defaultConnWait).SetConnectTimeout(defaultConnWait).
		SetAppName("mongocrypt-cli").ApplyURI(set.uri)
	if flagSet(c.fs, "connect-timeout") {
		copts.SetServerSelectionTimeout(c.connectTimeout).SetConnectTimeout(c.connectTimeout)
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	ceOpts := options.ClientEncryption().SetKeyVaultNamespace(set.keyVault).SetKmsProviders(set.kmsProviders)
	if tlsConfigs != nil {
		ceOpts.SetTLSConfig(tlsConfigs)
	}
	ce, err := mongocrypt.NewClientEncryption(client, ceOpts)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	db, coll, _ := strings.Cut(set.keyVault, ".")
	kv := client.Database(db).Collection(coll, options.Collection().SetReadConcern(readconcern.Majority()))
	return &session{client: client, ce: ce, kv: kv, ns: set.keyVault, set: set}, nil
}

// close disconnects.
func (s *session) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.ce.Close(ctx)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
