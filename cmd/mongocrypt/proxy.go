package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/proxy"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// shutdownWait is how long SIGTERM lets in-flight commands finish.
const shutdownWait = 30 * time.Second

func proxySpec() *cmdSpec {
	var listen, cert, key, clientCA string
	return &cmdSpec{
		path:    "proxy",
		summary: "serve automatic encryption to any client: a wire-protocol proxy in front of a server",
		desc: `Listens for MongoDB clients (mongosh, any driver, BI tools) and forwards their commands to the
server named by --uri, encrypting on the way in and decrypting on the way out with the schemas of
the configuration file (schemaMap, encryptedFieldsMap) and the server's encryptedFields, as a
driver with automatic encryption does: clients read and write plaintext, the server only ever sees
ciphertext. Clients connect as to a server: mongodb://LISTEN/?directConnection=true. Prints
"listening on ADDRESS" on stdout once it accepts connections; SIGTERM or an interrupt lets the
commands in flight finish and refuses new connections.

Each client connection gets its own connection to the server and authenticates on it with its own
credentials; the proxy's key vault and schema reads use the credentials of --uri.

The proxy holds the key access: whoever reaches it and authenticates to the server reads
plaintext. It listens on loopback by default; any other address needs --tls-cert and --tls-key
(and --tls-client-ca to require client certificates): there is no plaintext mode on the network.

For a replica set each new server connection goes to the primary the deployment names at that
moment: after a failover the clients' connections to the old primary fail, and their new ones
reach the new primary. Compression is not offered to clients.`,
		examples: []string{
			"mongocrypt proxy --listen 127.0.0.1:27117 --uri mongodb://db:27017 --config mongocrypt.yaml",
			"mongosh 'mongodb://127.0.0.1:27117/?directConnection=true'",
		},
		maxArgs:  0,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			fs.StringVar(&listen, "listen", "127.0.0.1:27117", "the `ADDRESS` to listen on (host:port)")
			fs.StringVar(&cert, "tls-cert", "", "the certificate `FILE` (PEM) of a TLS listener")
			fs.StringVar(&key, "tls-key", "", "the private key `FILE` (PEM) of a TLS listener")
			fs.StringVar(&clientCA, "tls-client-ca", "", "require client certificates signed by the CA in `FILE` (PEM)")
			return func(ctx context.Context, a *app, _ []string, cf *connFlags) error {
				return runProxy(ctx, a, cf, listen, cert, key, clientCA)
			}
		},
	}
}

func runProxy(ctx context.Context, a *app, cf *connFlags, listen, cert, key, clientCA string) error {
	set, err := cf.load(a)
	if err != nil {
		return err
	}
	var listenTLS *tls.Config
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		listenTLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if clientCA != "" {
			pem, err := readLimited(clientCA, 1<<20)
			if err != nil {
				return fmt.Errorf("--tls-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return usagef("--tls-client-ca %s holds no PEM certificate", clientCA)
			}
			listenTLS.ClientCAs, listenTLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	case cert != "" || key != "":
		return usagef("--tls-cert and --tls-key go together")
	case clientCA != "":
		return usagef("--tls-client-ca needs --tls-cert and --tls-key")
	}
	tlsConfigs, err := set.tlsConfigs()
	if err != nil {
		return err
	}
	ae := options.AutoEncryption().SetKeyVaultNamespace(set.keyVault).SetKmsProviders(set.kmsProviders).
		SetBypassQueryAnalysis(set.bypassQueryAnalysis)
	if tlsConfigs != nil {
		ae.SetTLSConfig(tlsConfigs)
	}
	if len(set.schemaMap) > 0 {
		ae.SetSchemaMap(toAnyMap(set.schemaMap))
	}
	if len(set.encryptedFieldsMap) > 0 {
		ae.SetEncryptedFieldsMap(toAnyMap(set.encryptedFieldsMap))
	}
	if set.keyExpirationMS != nil {
		ae.SetKeyExpiration(time.Duration(*set.keyExpirationMS) * time.Millisecond)
	}
	copts := options.Client().ApplyURI(set.uri).SetServerSelectionTimeout(cf.connectTimeout).SetAppName("mongocrypt-proxy")
	upstream, upstreamTLS, resolve, err := findUpstream(ctx, set.uri, copts)
	if err != nil {
		return err
	}
	if resolve != nil {
		defer resolve.close()
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	enc, err := mongocrypt.Config{Logger: log}.NewAutoEncrypter(copts.SetAutoEncryptionOptions(ae))
	if err != nil {
		return err
	}
	defer enc.Close(context.Background())
	pc := proxy.Config{Upstream: upstream, UpstreamTLS: upstreamTLS, Encrypter: enc, TLS: listenTLS, Logger: log}
	if resolve != nil {
		pc.Resolve = resolve.primary
	}
	srv, err := proxy.New(pc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Serve refuses a listener it must not use at once; give it that moment before saying
	// the proxy listens.
	select {
	case err := <-served:
		if errors.Is(err, proxy.ErrNotLoopback) {
			return usagef("--listen %s is not a loopback address: give --tls-cert and --tls-key", listen)
		}
		return err
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := fmt.Fprintf(a.stdout, "listening on %s\n", ln.Addr()); err != nil {
		return err
	}
	log.Info("proxy listening", "listen", ln.Addr().String(), "upstream", upstream, "tls", listenTLS != nil)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-served
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("proxy stopped")
	return nil
}

// findUpstream returns the address the proxy forwards to, with the URI's TLS: the host of a
// single-host URI, or for a replica set (or several hosts) the primary as the deployment says
// now, with a resolver that asks again for each new server connection (so the connections made
// after a failover reach the new primary).
func findUpstream(ctx context.Context, uri string, copts *options.ClientOptions) (string, *tls.Config, *primaryResolver, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return "", nil, nil, usagef("--uri: %s", redactURI(err.Error()))
	}
	if len(cs.Hosts) == 0 {
		return "", nil, nil, usagef("--uri names no host (mongodb+srv is not supported by the proxy yet)")
	}
	var upTLS *tls.Config
	if copts.TLSConfig != nil {
		upTLS = copts.TLSConfig.Clone()
	}
	if len(cs.Hosts) == 1 && (cs.DirectConnection || cs.ReplicaSet == "") {
		return withPort(cs.Hosts[0]), upTLS, nil, nil
	}
	c, err := mongo.Connect(copts)
	if err != nil {
		return "", nil, nil, fmt.Errorf("connecting to find the primary: %w", err)
	}
	r := &primaryResolver{client: c}
	addr, err := r.primary(ctx)
	if err != nil {
		r.close()
		return "", nil, nil, err
	}
	return addr, upTLS, r, nil
}

// primaryResolver finds the primary of a replica set with a driver client of its own.
type primaryResolver struct{ client *mongo.Client }

func (r *primaryResolver) primary(ctx context.Context) (string, error) {
	var hello struct {
		Primary string `bson:"primary"`
		Me      string `bson:"me"`
	}
	if err := r.client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return "", fmt.Errorf("asking for the primary: %w", err)
	}
	switch {
	case hello.Primary != "":
		return withPort(hello.Primary), nil
	case hello.Me != "":
		return withPort(hello.Me), nil
	}
	return "", errors.New("the deployment names no primary")
}

func (r *primaryResolver) close() { _ = r.client.Disconnect(context.Background()) }

func withPort(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(host, "27017")
}

func toAnyMap(m map[string]bson.Raw) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
