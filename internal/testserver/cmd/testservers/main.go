// Command testservers runs the servers the library module's tests need but cannot import
// without giving every user of the module their dependencies: the embedded MongoDB-compatible
// server (FerretDB behind the layer of package qelayer) and local-kms. It prints one JSON line
// with their addresses,
//
//	{"mongodb":"mongodb://127.0.0.1:PORT/","ferretdb":"mongodb://127.0.0.1:PORT/","localkms":"http://127.0.0.1:PORT"}
//
// where mongodb is the layer and ferretdb is FerretDB itself,
// and runs until its standard input reaches end of file, which happens when the test process
// that started it exits, however it exits. internal/testenv of the library module starts it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver"
	"github.com/mongocrypt-go/mongocrypt/internal/testserver/localkms"
)

func main() {
	noMongo := flag.Bool("no-mongodb", false, "do not start the embedded MongoDB-compatible server")
	flag.Parse()
	if err := run(*noMongo); err != nil {
		fmt.Fprintln(os.Stderr, "testservers:", err)
		os.Exit(1)
	}
}

func run(noMongo bool) error {
	dir, err := os.MkdirTemp("", "mongocrypt-testservers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	out := map[string]string{}
	if !noMongo {
		s, err := testserver.Start()
		if err != nil {
			return err
		}
		defer s.Stop()
		out["mongodb"] = s.URI()
		out["ferretdb"] = s.FerretDBURI()
	}

	kms := localkms.New(dir)
	defer kms.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: kms}
	go srv.Serve(l)
	defer srv.Close()
	out["localkms"] = "http://" + l.Addr().String()

	line, _ := json.Marshal(out)
	if _, err := fmt.Printf("%s\n", line); err != nil {
		return err
	}
	// Until the parent goes away.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}
