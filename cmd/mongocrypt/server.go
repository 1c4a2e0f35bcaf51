package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mongocrypt-go/mongocrypt/internal/testserver"
)

func serverSpec() *cmdSpec {
	return &cmdSpec{
		path:    "server",
		summary: "run the embedded server of the demo, to try the other commands",
		desc: `Starts the embedded MongoDB-compatible server that the demo uses (FerretDB with SQLite, on a
free port of 127.0.0.1, its data in a temporary directory), prints its connection string on the
first line of stdout and serves until interrupted; the data is removed on exit. It is for trying
the tool without a MongoDB deployment, not for keeping keys.`,
		examples: []string{
			"mongocrypt server &",
			"MONGODB_URI=mongodb://127.0.0.1:PORT/ MONGOCRYPT_LOCAL_KEY=$(head -c 96 /dev/urandom | base64 -w0) mongocrypt keys create --provider local",
		},
		maxArgs: 0,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, a *app, _ []string, _ *connFlags) error {
				s, err := testserver.Start()
				if err != nil {
					return fmt.Errorf("starting the embedded server: %w", err)
				}
				defer s.Stop()
				if _, err := fmt.Fprintln(a.stdout, s.URI()); err != nil {
					return err
				}
				<-ctx.Done()
				return nil
			}
		},
	}
}
