package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// dataKeyLen is the length of a data key: MAC key, encryption key, IV key.
const dataKeyLen = 96

func keysCreateSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys create",
		summary: "create a data key and print its id",
		desc: `Creates a data key, wraps it with the KMS provider NAME (local, aws, azure, gcp, kmip, or a
named one such as local:new or aws:prod) under the master key of --master-key, stores it in the
key vault and prints its id. --master-key is the driver's masterKey document for the provider
(aws: region and key; azure: keyVaultEndpoint and keyName; gcp: projectId, location, keyRing,
keyName; kmip: optional keyId; local: none).`,
		examples: []string{
			"mongocrypt keys create --provider local --alt-name billing --alt-name 2026",
			`mongocrypt keys create --provider aws --master-key '{"region":"us-east-1","key":"arn:aws:kms:us-east-1:123456789012:key/..."}'`,
			"mongocrypt keys create --provider local --key-material-file dek.bin --json",
		},
		maxArgs:  0,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			provider := fs.String("provider", "", "the KMS provider `NAME` that wraps the key (required)")
			masterKey := fs.String("master-key", "", "the masterKey `JSON` document of the provider")
			var altNames stringList
			fs.Var(&altNames, "alt-name", "a keyAltName of the key; repeatable (`NAME`)")
			materialFile := fs.String("key-material-file", "", "a `FILE` holding the 96 bytes of the data key, raw or base64,\ninstead of random ones")
			asJSON := fs.Bool("json", false, "print the key document as Extended JSON instead of the id")
			return func(ctx context.Context, a *app, _ []string, cf *connFlags) error {
				if *provider == "" {
					return usagef("--provider is required")
				}
				opts := options.DataKey()
				if *masterKey != "" {
					mk, err := parseDocument(*masterKey, "--master-key")
					if err != nil {
						return err
					}
					opts.SetMasterKey(mk)
				}
				if len(altNames) > 0 {
					opts.SetKeyAltNames(altNames)
				}
				if *materialFile != "" {
					m, err := readKeyMaterial(*materialFile)
					if err != nil {
						return err
					}
					opts.SetKeyMaterial(m)
				}
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				id, err := s.ce.CreateDataKey(ctx, *provider, opts)
				if err != nil {
					return fmt.Errorf("creating a data key with KMS provider %q: %w", *provider, err)
				}
				if !*asJSON {
					_, err = fmt.Fprintln(a.stdout, uuidString(id.Data))
					return err
				}
				doc, err := s.ce.GetKey(ctx, id).Raw()
				if err != nil {
					return fmt.Errorf("reading back data key %s: %w", uuidString(id.Data), err)
				}
				return writeKeyJSON(a.stdout, doc)
			}
		},
	}
}

// readKeyMaterial reads a data key from a file: 96 raw bytes or their base64.
func readKeyMaterial(path string) ([]byte, error) {
	b, err := readLimited(path, 4096)
	if err != nil {
		return nil, fmt.Errorf("reading the key material: %w", err)
	}
	if len(b) == dataKeyLen {
		return b, nil
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(dec) != dataKeyLen {
		return nil, fmt.Errorf("the key material in %s must be %d bytes, raw or base64 (the file has %d bytes)", path, dataKeyLen, len(b))
	}
	return dec, nil
}

func keysListSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys list",
		summary: "list the data keys of the key vault",
		desc: `Lists the data keys of the key vault, oldest first: as a table, or with --json as a JSON array
of key documents in relaxed Extended JSON (the wrapped key material is not secret without its
master key). --filter selects keys with a query on the key documents.`,
		examples: []string{
			"mongocrypt keys list --uri mongodb://localhost:27017",
			`mongocrypt keys list --filter '{"masterKey.provider":"aws"}' --json`,
		},
		maxArgs:  0,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print a JSON array of key documents")
			filter := fs.String("filter", "", "a query `JSON` on the key documents (default: every key)")
			return func(ctx context.Context, a *app, _ []string, cf *connFlags) error {
				var f bson.Raw
				if *filter != "" {
					var err error
					if f, err = parseDocument(*filter, "--filter"); err != nil {
						return err
					}
				}
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				var cur *mongo.Cursor
				if f == nil {
					cur, err = s.ce.GetKeys(ctx)
				} else {
					cur, err = s.kv.Find(ctx, f)
				}
				if err != nil {
					return fmt.Errorf("reading the key vault %s: %w", s.ns, err)
				}
				docs, err := allDocs(ctx, cur)
				if err != nil {
					return fmt.Errorf("reading the key vault %s: %w", s.ns, err)
				}
				sortKeys(docs)
				if *asJSON {
					return writeKeysJSON(a.stdout, docs)
				}
				if len(docs) == 0 {
					fmt.Fprintf(a.stderr, "no data keys in %s\n", s.ns)
					return nil
				}
				return writeKeyTable(a.stdout, docs)
			}
		},
	}
}

func allDocs(ctx context.Context, cur *mongo.Cursor) ([]bson.Raw, error) {
	defer cur.Close(ctx)
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, append(bson.Raw(nil), cur.Current...))
	}
	return docs, cur.Err()
}

// keyArgHelp explains the KEY argument.
const keyArgHelp = `KEY is a key id (a UUID such as 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b, or 32 hex digits) or a
keyAltName.`

// errNoKey is wrapped by the errors for a KEY that names no key.
var errNoKey = errors.New("no such data key")

// resolveKey finds the key document named by ref: by id when ref is a UUID, else (or when no
// key has that id) by keyAltName.
func (s *session) resolveKey(ctx context.Context, ref string) (bson.Raw, error) {
	if id, ok := parseUUID(ref); ok {
		doc, err := s.ce.GetKey(ctx, id).Raw()
		if err == nil {
			return doc, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("reading data key %s from %s: %w", uuidString(id.Data), s.ns, err)
		}
	}
	doc, err := s.ce.GetKeyByAltName(ctx, ref).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%w: no key in %s has the id or keyAltName %q", errNoKey, s.ns, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("reading data key %q from %s: %w", ref, s.ns, err)
	}
	return doc, nil
}

// resolveKeyByAltName finds the key document with the keyAltName name.
func (s *session) resolveKeyByAltName(ctx context.Context, name string) (bson.Raw, error) {
	doc, err := s.ce.GetKeyByAltName(ctx, name).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%w: no key in %s has the keyAltName %q", errNoKey, s.ns, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading data key %q from %s: %w", name, s.ns, err)
	}
	return doc, nil
}

// openKey opens a session and resolves ref to a key document and its id; the caller closes
// the session.
func (c *connFlags) openKey(ctx context.Context, a *app, ref string) (*session, bson.Raw, bson.Binary, error) {
	s, err := c.open(ctx, a)
	if err != nil {
		return nil, nil, bson.Binary{}, err
	}
	doc, err := s.resolveKey(ctx, ref)
	if err == nil {
		var id bson.Binary
		if id, err = keyIDOf(doc); err == nil {
			return s, doc, id, nil
		}
	}
	s.close()
	return nil, nil, bson.Binary{}, err
}

func keyIDOf(doc bson.Raw) (bson.Binary, error) {
	st, data, ok := doc.Lookup("_id").BinaryOK()
	if !ok {
		return bson.Binary{}, errors.New("the key document has no binary _id")
	}
	return bson.Binary{Subtype: st, Data: data}, nil
}

func keysGetSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys get",
		args:    "KEY",
		summary: "show one data key, by id or keyAltName",
		desc:    "Shows the data key KEY: its id, keyAltNames, KMS provider and master key, dates and status.\nWith --json, prints the key document as relaxed Extended JSON.\n" + keyArgHelp,
		examples: []string{
			"mongocrypt keys get billing",
			"mongocrypt keys get 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b --json",
		},
		minArgs: 1, maxArgs: 1,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print the key document as Extended JSON")
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				doc, err := s.resolveKey(ctx, args[0])
				if err != nil {
					return err
				}
				if *asJSON {
					return writeKeyJSON(a.stdout, doc)
				}
				return writeKeyDetail(a.stdout, doc)
			}
		},
	}
}

func keysDeleteSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys delete",
		args:    "KEY",
		summary: "delete a data key",
		desc: `Deletes the data key KEY from the key vault. Values encrypted with it can no longer be
decrypted: make sure none remain. When stdin is a terminal, the key is shown and the deletion
waits for its id or "yes" to be typed; otherwise --yes must be given (exit status 2 without it).
` + keyArgHelp,
		examples: []string{
			"mongocrypt keys delete 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b",
			"mongocrypt keys delete old-billing-key --yes",
		},
		minArgs: 1, maxArgs: 1,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			yes := fs.Bool("yes", false, "delete without asking (required when stdin is not a terminal)")
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				if !*yes && !a.stdinTTY {
					return usagef("deleting a data key needs --yes when stdin is not a terminal (values encrypted with the key can no longer be decrypted)")
				}
				s, doc, id, err := cf.openKey(ctx, a, args[0])
				if err != nil {
					return err
				}
				defer s.close()
				if !*yes {
					if err := a.confirmDelete(doc); err != nil {
						return err
					}
				}
				res, err := s.ce.DeleteKey(ctx, id)
				if err != nil {
					return fmt.Errorf("deleting data key %s: %w", uuidString(id.Data), err)
				}
				if res.DeletedCount == 0 {
					return fmt.Errorf("%w: data key %s was deleted meanwhile", errNoKey, uuidString(id.Data))
				}
				_, err = fmt.Fprintf(a.stdout, "deleted data key %s\n", uuidString(id.Data))
				return err
			}
		},
	}
}

// errNotConfirmed is the error of a deletion that the terminal did not confirm.
var errNotConfirmed = errors.New("not confirmed: nothing was deleted")

// confirmDelete shows the key about to be deleted on stderr and reads one line of stdin: its
// id (either spelling of parseUUID's) or "yes" confirms.
func (a *app) confirmDelete(doc bson.Raw) error {
	k := viewKey(doc)
	fmt.Fprintf(a.stderr, "Deleting data key %s (keyAltNames: %s; provider: %s; created %s).\n",
		k.id, orDash(strings.Join(k.altNames, ", ")), orDash(k.provider), k.created)
	fmt.Fprintf(a.stderr, "Values encrypted with it can no longer be decrypted. Type its id or \"yes\" to delete it: ")
	line, err := bufio.NewReader(io.LimitReader(a.stdin, 4096)).ReadString('\n')
	if !strings.HasSuffix(line, "\n") {
		fmt.Fprintln(a.stderr) // the terminal echoed no end of line
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	answer := strings.TrimSpace(line)
	if strings.EqualFold(answer, "yes") {
		return nil
	}
	if id, ok := parseUUID(answer); ok && uuidString(id.Data) == k.id {
		return nil
	}
	return errNotConfirmed
}

func keysAddAltNameSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys add-alt-name",
		args:    "KEY NAME",
		summary: "add a keyAltName to a data key",
		desc:    "Adds the keyAltName NAME to the data key KEY. A name that another key has is refused.\n" + keyArgHelp,
		examples: []string{
			"mongocrypt keys add-alt-name 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b billing",
			"mongocrypt keys add-alt-name billing billing-2026",
		},
		minArgs: 2, maxArgs: 2,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				s, _, id, err := cf.openKey(ctx, a, args[0])
				if err != nil {
					return err
				}
				defer s.close()
				prev, err := s.ce.AddKeyAltName(ctx, id, args[1]).Raw()
				if err != nil {
					return fmt.Errorf("adding keyAltName %q to data key %s: %w", args[1], uuidString(id.Data), err)
				}
				if slices.Contains(viewKey(prev).altNames, args[1]) {
					_, err = fmt.Fprintf(a.stdout, "data key %s already has keyAltName %q\n", uuidString(id.Data), args[1])
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "added keyAltName %q to data key %s\n", args[1], uuidString(id.Data))
				return err
			}
		},
	}
}

func keysRemoveAltNameSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys remove-alt-name",
		args:    "KEY NAME",
		summary: "remove a keyAltName from a data key",
		desc:    "Removes the keyAltName NAME from the data key KEY.\n" + keyArgHelp,
		examples: []string{
			"mongocrypt keys remove-alt-name billing billing-2025",
			"mongocrypt keys remove-alt-name 0f3c5f4e-5a1d-4c52-9a0b-1c2d3e4f5a6b billing",
		},
		minArgs: 2, maxArgs: 2,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, a *app, args []string, cf *connFlags) error {
				s, doc, id, err := cf.openKey(ctx, a, args[0])
				if err != nil {
					return err
				}
				defer s.close()
				if !slices.Contains(viewKey(doc).altNames, args[1]) {
					return fmt.Errorf("data key %s has no keyAltName %q", uuidString(id.Data), args[1])
				}
				if err := s.ce.RemoveKeyAltName(ctx, id, args[1]).Err(); err != nil {
					return fmt.Errorf("removing keyAltName %q from data key %s: %w", args[1], uuidString(id.Data), err)
				}
				_, err = fmt.Fprintf(a.stdout, "removed keyAltName %q from data key %s\n", args[1], uuidString(id.Data))
				return err
			}
		},
	}
}
