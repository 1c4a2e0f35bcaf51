package proxy_test

import (
	"context"
	"errors"
	"log"
	"net"
	"os"
	"os/signal"

	"github.com/mongocrypt-go/mongocrypt"
	"github.com/mongocrypt-go/mongocrypt/proxy"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A proxy on loopback in front of a server: clients connect to
// mongodb://127.0.0.1:27117/?directConnection=true and read and write plaintext, while the
// collection of the schema map holds ciphertext.
func Example() {
	kms := map[string]map[string]any{"local": {"key": os.Getenv("LOCAL_MASTER_KEY")}}
	ae := options.AutoEncryption().SetKeyVaultNamespace("encryption.__keyVault").SetKmsProviders(kms)
	enc, err := mongocrypt.NewAutoEncrypter(options.Client().ApplyURI("mongodb://db:27017").SetAutoEncryptionOptions(ae))
	if err != nil {
		log.Fatal(err)
	}
	defer enc.Close(context.Background())
	srv, err := proxy.New(proxy.Config{Upstream: "db:27017", Encrypter: enc})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:27117")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt)
		<-stop
		_ = srv.Shutdown(context.Background()) // in-flight commands finish
	}()
	if err := srv.Serve(ln); !errors.Is(err, proxy.ErrClosed) {
		log.Fatal(err)
	}
}
