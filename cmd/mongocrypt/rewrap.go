package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// defaultRewrapBatch is the number of keys of one RewrapManyDataKey call. Each call ends in one
// update command of that many statements; FerretDB 1.24 holds a SQLite connection per
// statement until the command ends, from a pool of 100, and hangs at 100 statements.
const defaultRewrapBatch = 50

func keysRewrapSpec() *cmdSpec {
	return &cmdSpec{
		path:    "keys rewrap",
		summary: "re-encrypt data keys under another master key",
		desc: `Decrypts the data keys matching --filter with their current master key and encrypts them again
under the master key of --provider and --master-key (without --provider, each key under its own
master key again). The data keys themselves do not change, so every value encrypted with them
still decrypts. The KMS providers of both the old and the new master keys must be configured.

Keys are rewrapped in batches of --batch-size, in the order of their ids, with one call of the
library's RewrapManyDataKey each: a batch is written only when all its keys were rewrapped, so a
failure leaves the keys of the failing batch, and of the batches after it, as they were; the
summary says how many keys were rewrapped before it. --dry-run lists the keys that would be
rewrapped and writes nothing. A progress bar is drawn on stderr when it is a terminal.`,
		examples: []string{
			`mongocrypt keys rewrap --filter '{"masterKey.provider":"local"}' --provider local:new --dry-run`,
			`mongocrypt keys rewrap --config prod.yaml --provider aws --master-key '{"region":"us-east-1","key":"arn:aws:kms:..."}'`,
		},
		maxArgs:  0,
		connects: true,
		setup: func(fs *flag.FlagSet) runFunc {
			filter := fs.String("filter", "", "a query `JSON` selecting the keys to rewrap (default: every key)")
			provider := fs.String("provider", "", "the KMS provider `NAME` of the new master key")
			masterKey := fs.String("master-key", "", "the new masterKey `JSON` document (needs --provider)")
			dryRun := fs.Bool("dry-run", false, "list the keys that would be rewrapped; write nothing")
			batch := fs.Int("batch-size", defaultRewrapBatch, "the number of keys `N` rewrapped and written at once (keep it under 100 on\nFerretDB 1.24, which hangs on larger update commands)")
			progress := fs.String("progress", "auto", "`WHEN` to draw a progress bar on stderr: auto (when it is a terminal), always\nor never")
			return func(ctx context.Context, a *app, _ []string, cf *connFlags) error {
				r := &rewrap{provider: *provider, dryRun: *dryRun, batch: *batch, out: a.stdout}
				if *filter != "" {
					f, err := parseDocument(*filter, "--filter")
					if err != nil {
						return err
					}
					r.filter = f
				}
				if *masterKey != "" {
					if *provider == "" {
						return usagef("--master-key needs --provider")
					}
					mk, err := parseDocument(*masterKey, "--master-key")
					if err != nil {
						return err
					}
					r.masterKey = mk
				}
				if *batch < 1 {
					return usagef("--batch-size must be at least 1")
				}
				switch *progress {
				case "auto":
					r.bar.on = a.stderrTTY
				case "always":
					r.bar.on = true
				case "never":
				default:
					return usagef("--progress must be auto, always or never")
				}
				r.bar.w = a.stderr
				s, err := cf.open(ctx, a)
				if err != nil {
					return err
				}
				defer s.close()
				return r.run(ctx, s)
			}
		},
	}
}

// rewrap is one run of "keys rewrap".
type rewrap struct {
	filter    bson.Raw
	provider  string
	masterKey bson.Raw
	dryRun    bool
	batch     int
	out       io.Writer
	bar       progressBar
}

func (r *rewrap) target() string {
	if r.provider == "" {
		return "their own master keys"
	}
	return fmt.Sprintf("KMS provider %q", r.provider)
}

func (r *rewrap) run(ctx context.Context, s *session) error {
	if r.provider != "" {
		if _, ok := s.set.kmsProviders[r.provider]; !ok {
			return fmt.Errorf("KMS provider %q is not configured: give its settings in the configuration file, the environment or --kms", r.provider)
		}
	}
	filter := r.filter
	if filter == nil {
		filter = bson.Raw(bsoncoreEmpty)
	}
	cur, err := s.kv.Find(ctx, filter, options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "keyAltNames", Value: 1}, {Key: "masterKey", Value: 1}}).
		SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("finding the keys to rewrap in %s: %w", s.ns, err)
	}
	docs, err := allDocs(ctx, cur)
	if err != nil {
		return fmt.Errorf("finding the keys to rewrap in %s: %w", s.ns, err)
	}
	// Servers sort binary _ids by length, subtype, then bytes; sort again so that batches
	// follow the ids whatever the server did.
	sort.SliceStable(docs, func(i, j int) bool {
		_, a, _ := docs[i].Lookup("_id").BinaryOK()
		_, b, _ := docs[j].Lookup("_id").BinaryOK()
		return string(a) < string(b)
	})
	if r.dryRun {
		return r.list(s, docs)
	}
	if len(docs) == 0 {
		_, err := fmt.Fprintf(r.out, "matched 0 data keys in %s; nothing to rewrap\n", s.ns)
		return err
	}

	opts := options.RewrapManyDataKey()
	if r.provider != "" {
		opts.SetProvider(r.provider)
	}
	if r.masterKey != nil {
		opts.SetMasterKey(r.masterKey)
	}
	r.bar.total = len(docs)
	r.bar.show(0)
	var rewrapped, gone int64
	for start := 0; start < len(docs); start += r.batch {
		end := min(start+r.batch, len(docs))
		ids := make(bson.A, 0, end-start)
		for _, d := range docs[start:end] {
			ids = append(ids, d.Lookup("_id"))
		}
		// The batch is the keys of this slice that still match the filter.
		batchFilter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
		if r.filter != nil && !isEmptyDoc(r.filter) {
			batchFilter = bson.D{{Key: "$and", Value: bson.A{r.filter, batchFilter}}}
		}
		res, err := s.ce.RewrapManyDataKey(ctx, batchFilter, opts)
		if res != nil && res.BulkWriteResult != nil {
			rewrapped += res.ModifiedCount
			if err == nil {
				gone += int64(end-start) - res.MatchedCount
			}
		}
		if err != nil {
			r.bar.finish()
			fmt.Fprintf(r.out, "matched %d data keys in %s; rewrapped %d under %s before a failure\n", len(docs), s.ns, rewrapped, r.target())
			return fmt.Errorf("rewrapped %d of %d data keys, then the batch of keys %d to %d failed (its keys, and the %d after it, were not rewrapped): %w",
				rewrapped, len(docs), start+1, end, len(docs)-end, firstOfMany(err))
		}
		r.bar.show(end)
	}
	r.bar.finish()
	msg := fmt.Sprintf("matched %d data keys in %s; rewrapped %d under %s", len(docs), s.ns, rewrapped, r.target())
	if gone > 0 {
		msg += fmt.Sprintf("; %d were deleted or changed meanwhile and left alone", gone)
	}
	_, err = fmt.Fprintln(r.out, msg)
	return err
}

// firstOfMany shortens the joined errors of a batch (one per key, often all alike) to the
// first one and their number, so that the line stays readable.
func firstOfMany(err error) error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		if errs := joined.Unwrap(); len(errs) > 1 {
			return fmt.Errorf("%d keys could not be rewrapped; the first: %w", len(errs), errs[0])
		}
	}
	return err
}

// list prints what a rewrap would do.
func (r *rewrap) list(s *session, docs []bson.Raw) error {
	if len(docs) > 0 {
		tw := tabwriter.NewWriter(r.out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY ALT NAMES\tFROM\tTO")
		for _, d := range docs {
			k := viewKey(d)
			from := orDash(k.provider)
			if k.masterKey != "" {
				from += " " + k.masterKey
			}
			to := r.provider
			if to == "" {
				to = from
			} else if r.masterKey != nil {
				_, rest := summarizeMasterKey(r.masterKey)
				to += " " + rest
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.id, orDash(strings.Join(k.altNames, ",")), from, strings.TrimSpace(to))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(r.out, "dry run: matched %d data keys in %s; they would be rewrapped under %s; nothing was written\n", len(docs), s.ns, r.target())
	return err
}

// bsoncoreEmpty is the empty BSON document.
var bsoncoreEmpty = []byte{5, 0, 0, 0, 0}

func isEmptyDoc(d bson.Raw) bool {
	elems, err := d.Elements()
	return err == nil && len(elems) == 0
}

// progressBar draws "rewrapping [#####.....] 300/1000" on a terminal.
type progressBar struct {
	w     io.Writer
	on    bool
	total int
	drawn bool
}

const barWidth = 30

func (p *progressBar) show(done int) {
	if !p.on || p.total == 0 {
		return
	}
	n := done * barWidth / p.total
	fmt.Fprintf(p.w, "\rrewrapping [%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(".", barWidth-n), done, p.total)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
