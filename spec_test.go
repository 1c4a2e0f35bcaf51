package mongocrypt

// The conformance runner for the specification's client-side-encryption test suites
// (internal/testserver/testdata/spec/tests/legacy and .../unified). Both formats are read into one shape,
// specCase, and run by the same code: set up the collections and the key vault, make the
// clients and ClientEncryption objects, run the operations comparing results and errors,
// then compare the command events (deterministic ciphertexts byte for byte) and the final
// collection contents.
//
// Every test ends in exactly one of: passed; failed; skipped with a class and a reason
// (t.Skipf, counted per class); a known failure of the library (specKnownFailures, run and
// required to fail the recorded way, reported as such). TestSpecLegacy and TestSpecUnified
// print the counts of their suite at the end.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// specTestsDir holds the specification's legacy/ and unified/ client-side-encryption tests.
const specTestsDir = "internal/testserver/testdata/spec/tests"

// specLibmongocryptVersion is the libmongocrypt release whose behaviour this module
// reproduces; csfle.minLibmongocryptVersion requirements are checked against it.
const specLibmongocryptVersion = "1.20.0"

// specCase is one test of either format.
type specCase struct {
	suite, file, name string
	skipReason        string
	runOn             [][]bson.Raw // every list must be satisfied (file level, test level)
	initial           []specCollData
	entities          []bson.Raw // {client: ...}, {database: ...}, ... in creation order
	ops               []specOp
	events            []specClientEvents
	outcome           []specCollData
	failPoint         bson.Raw // legacy test-level fail point
	legacy            bool
	raw               bson.Raw // the test document, for the static skip rules
}

// specCollData is initial data or an expected outcome of one collection.
type specCollData struct {
	db, coll      string
	createOptions bson.Raw // create command options (validator, encryptedFields)
	// encryptedFields (legacy encrypted_fields) creates the collection through the Queryable
	// Encryption helpers of the driver, with its state collections and index.
	encryptedFields bson.Raw
	docs            []bson.Raw
	// keyVault: the legacy key_vault_data (dropped and refilled only when given).
	keyVault bool
	// create: create the collection even without documents (unified initialData).
	create bool
}

type specOp struct {
	object, name string
	args         bson.Raw
	expectResult *bson.RawValue
	expectError  bson.Raw // nil: no error expected
	saveAs       string
	ignoreResult bool
}

type specClientEvents struct {
	client      string
	events      []specEvent
	ignoreExtra bool
}

type specEvent struct {
	kind         string // "started" or "succeeded"
	doc          bson.Raw
	commandName  string
	databaseName string
}

// ---- the tally of one suite ----

type specTally struct {
	suite   string
	mu      sync.Mutex
	passed  int
	failed  []string
	known   []string
	skipped map[string][]string // class -> tests
	reasons map[string]string   // class -> the reason of its first test
}

func newSpecTally(suite string) *specTally {
	return &specTally{suite: suite, skipped: map[string][]string{}, reasons: map[string]string{}}
}

// specSkip is a skip with its class (what the summary groups by) and the precise reason.
type specSkip struct{ class, reason string }

func (s *specSkip) Error() string { return s.class + ": " + s.reason }

// run runs one case as a subtest and counts its end.
func (tl *specTally) run(t *testing.T, r *specRunner, c *specCase) {
	var skip *specSkip
	var knownReason string
	var knownErr error
	ran := false
	ok := t.Run(c.file+"/"+c.name, func(t *testing.T) {
		ran = true
		err := r.runCase(t, c)
		var s *specSkip
		key := c.suite + "/" + strings.TrimSuffix(c.file, ".json") + "/" + c.name
		devs, isKnown := specKnownFailures[key]
		switch {
		case errors.As(err, &s):
			skip = s
			t.Skipf("SKIP [%s] %s", s.class, s.reason)
		case err != nil && isKnown:
			id, ok := specMatchDeviation(devs, err)
			if !ok {
				t.Errorf("listed in specKnownFailures as %v, but failed otherwise: %v", devs, err)
				return
			}
			knownReason, knownErr = id+": "+specDeviations[id].why, err
			t.Skipf("KNOWN FAILURE [%s] %s\n%v", id, specDeviations[id].why, err)
		case err != nil:
			t.Error(err)
		case isKnown && !specEmbeddedOnly(devs):
			t.Errorf("listed in specKnownFailures as %v but passed: remove it from the list", devs)
		}
	})
	if !ran {
		return // filtered out by -run
	}

	tl.mu.Lock()
	defer tl.mu.Unlock()
	name := c.file + "/" + c.name
	switch {
	case !ok:
		tl.failed = append(tl.failed, name)
	case skip != nil:
		tl.skipped[skip.class] = append(tl.skipped[skip.class], name)
		if _, ok := tl.reasons[skip.class]; !ok {
			tl.reasons[skip.class] = skip.reason
		}
	case knownErr != nil:
		tl.known = append(tl.known, name+": "+knownReason)
	default:
		tl.passed++
	}
}

// report prints the counts of the suite, the reason of every skip class and the known failures.
func (tl *specTally) report(t *testing.T) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	nskip := 0
	for _, v := range tl.skipped {
		nskip += len(v)
	}
	fmt.Fprintf(&b, "spec %s suite: %d passed, %d failed, %d known failures, %d skipped\n",
		tl.suite, tl.passed, len(tl.failed), len(tl.known), nskip)
	classes := make([]string, 0, len(tl.skipped))
	for c := range tl.skipped {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool {
		if len(tl.skipped[classes[i]]) != len(tl.skipped[classes[j]]) {
			return len(tl.skipped[classes[i]]) > len(tl.skipped[classes[j]])
		}
		return classes[i] < classes[j]
	})
	for _, c := range classes {
		fmt.Fprintf(&b, "  skipped %4d  %s\n                (%s)\n", len(tl.skipped[c]), c, tl.reasons[c])
	}
	for _, k := range tl.known {
		fmt.Fprintf(&b, "  known failure: %s\n", k)
	}
	for _, f := range tl.failed {
		fmt.Fprintf(&b, "  FAILED: %s\n", f)
	}
	t.Log("\n" + b.String())
	fmt.Print(b.String())
}

// ---- the environment shared by the cases of a run ----

type specServerInfo struct {
	version  []int
	versionS string
	topology string // single, replicaset, sharded
}

type specRunner struct {
	uri    string // where the clients connect
	server specServerInfo
	setup  *mongo.Client // plain client for setup and outcome checks
	kms    *specKMS
}

var (
	specServerOnce sync.Once
	specServerVal  specServerInfo
	specServerErr  error
)

func specLoadServer(ctx context.Context) (specServerInfo, error) {
	specServerOnce.Do(func() {
		c, err := mongo.Connect(options.Client().ApplyURI(testURI))
		if err != nil {
			specServerErr = err
			return
		}
		defer c.Disconnect(ctx)
		var bi struct {
			Version string `bson:"version"`
		}
		if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&bi); err != nil {
			specServerErr = fmt.Errorf("buildInfo: %w", err)
			return
		}
		hello, err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Raw()
		if err != nil {
			specServerErr = fmt.Errorf("hello: %w", err)
			return
		}
		info := specServerInfo{versionS: bi.Version, version: specParseVersion(bi.Version), topology: "single"}
		if _, err := hello.LookupErr("setName"); err == nil {
			info.topology = "replicaset"
		} else if msg, _ := hello.Lookup("msg").StringValueOK(); msg == "isdbgrid" {
			info.topology = "sharded"
		}
		specServerVal = info
	})
	return specServerVal, specServerErr
}

func specProfileNames() string {
	var names []string
	for _, p := range specProfiles {
		names = append(names, p.versionS+" "+p.topology)
	}
	return strings.Join(names, ", ")
}

func specParseVersion(s string) []int {
	var v []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(strings.TrimFunc(p, func(r rune) bool { return r < '0' || r > '9' }))
		if err != nil {
			break
		}
		v = append(v, n)
	}
	return v
}

func specCompareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (s specServerInfo) describe() string {
	if realMongoDB {
		return fmt.Sprintf("MongoDB %s %s (MONGODB_URI)", s.versionS, s.topology)
	}
	return fmt.Sprintf("the embedded FerretDB (with the layer's profiles: %s), which reports %s, %s", specProfileNames(), s.versionS, s.topology)
}

// newSpecRunner prepares the server (the embedded server's layer keeps validators, as MongoDB
// does) and the KMS servers.
func newSpecRunner(t *testing.T) *specRunner {
	t.Helper()
	if _, err := os.Stat(specTestsDir); err != nil {
		t.Skipf("the specification's tests are not here (%s): %v", specTestsDir, err)
	}
	ctx := t.Context()
	info, err := specLoadServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &specRunner{server: info, uri: testURI}
	r.setup, err = mongo.Connect(options.Client().ApplyURI(r.uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.setup.Disconnect(context.Background()) })
	r.kms = newSpecKMS(t)
	return r
}

// specFiles lists the JSON files of a suite.
func specFiles(t *testing.T, suite string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(specTestsDir, suite, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JSON files in %s/%s: %v", specTestsDir, suite, err)
	}
	sort.Strings(files)
	return files
}

func specReadFile(path string) (bson.Raw, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(js, true, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// ---- requirements and skip rules ----

// specProfiles are the servers the embedded server's layer can claim to be, tried in this
// order for a case whose requirements the default listener (FerretDB's own version,
// standalone) does not meet. The layer behaves as MongoDB of that version for what the tests
// reach (internal/testserver/qelayer), so that the files written for 6.0, 7.0, 8.0, 8.2 and 9.0
// each run with what they require.
var specProfiles = []specServerInfo{
	{versionS: "8.0.0", topology: "replicaset"},
	{versionS: "7.0.0", topology: "replicaset"},
	{versionS: "8.2.0", topology: "replicaset"},
	{versionS: "9.0.0", topology: "replicaset"},
	{versionS: "6.0.0", topology: "replicaset"},
	{versionS: "8.0.0", topology: "sharded"},
	{versionS: "8.0.0", topology: "single"},
}

var (
	specProfileMu   sync.Mutex
	specProfileURIs = map[string]string{} // "version topology" -> URI
)

// forCase returns the runner for c: r itself when r's server meets the case's requirements,
// else, on the embedded server, r with the URI of a listener of the layer that claims the
// first profile meeting them. The skip names what no profile meets.
func (r *specRunner) forCase(t *testing.T, c *specCase) (*specRunner, *specSkip) {
	skip := r.checkRunOn(c.runOn)
	if skip == nil || realMongoDB {
		return r, skip
	}
	for _, p := range specProfiles {
		p.version = specParseVersion(p.versionS)
		alt := *r
		alt.server = p
		if alt.checkRunOn(c.runOn) != nil {
			continue
		}
		uri, err := specProfileURI(t, p)
		if err != nil {
			t.Fatalf("opening a listener of the layer for %s %s: %v", p.versionS, p.topology, err)
		}
		alt.uri = uri
		return &alt, nil
	}
	return r, skip
}

// specProfileURI asks the embedded server's layer for a listener with profile p (once).
func specProfileURI(t *testing.T, p specServerInfo) (string, error) {
	specProfileMu.Lock()
	defer specProfileMu.Unlock()
	key := p.versionS + " " + p.topology
	if uri, ok := specProfileURIs[key]; ok {
		return uri, nil
	}
	c, err := mongo.Connect(options.Client().ApplyURI(testURI))
	if err != nil {
		return "", err
	}
	defer c.Disconnect(context.Background())
	var res struct {
		URI string `bson:"uri"`
	}
	err = c.Database("admin").RunCommand(t.Context(), bson.D{{Key: "qeLayerListen", Value: 1},
		{Key: "version", Value: p.versionS}, {Key: "topology", Value: p.topology}}).Decode(&res)
	if err != nil {
		return "", err
	}
	specProfileURIs[key] = res.URI
	return res.URI, nil
}

// checkRunOn returns a skip when none of the requirements of a list is met.
func (r *specRunner) checkRunOn(lists [][]bson.Raw) *specSkip {
	for _, reqs := range lists {
		if len(reqs) == 0 {
			continue
		}
		var why []string
		met := false
		for _, req := range reqs {
			w := r.unmet(req)
			if w == "" {
				met = true
				break
			}
			why = append(why, w)
		}
		if !met {
			return &specSkip{class: "runOn: " + strings.Join(specUnique(why), " | "),
				reason: "no runOn requirement is met by " + r.server.describe()}
		}
	}
	return nil
}

func specUnique(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// unmet describes what of one requirement the server does not meet ("" when met).
func (r *specRunner) unmet(req bson.Raw) string {
	var why []string
	if v, ok := req.Lookup("minServerVersion").StringValueOK(); ok && specCompareVersions(r.server.version, specParseVersion(v)) < 0 {
		why = append(why, "server >= "+v)
	}
	if v, ok := req.Lookup("maxServerVersion").StringValueOK(); ok && specCompareVersions(r.server.version, specParseVersion(v)) > 0 {
		why = append(why, "server <= "+v)
	}
	for _, key := range []string{"topology", "topologies"} {
		if arr, ok := req.Lookup(key).ArrayOK(); ok {
			vals, _ := arr.Values()
			var names []string
			found := false
			for _, v := range vals {
				n := v.StringValue()
				names = append(names, n)
				if n == r.server.topology || (n == "sharded-replicaset" && r.server.topology == "sharded") {
					found = true
				}
			}
			if !found {
				why = append(why, "topology "+strings.Join(names, "/"))
			}
		}
	}
	if v, ok := req.Lookup("serverless").StringValueOK(); ok && v == "require" {
		why = append(why, "serverless")
	}
	if b, ok := req.Lookup("auth").BooleanOK(); ok && b {
		why = append(why, "auth")
	}
	if cs, err := req.LookupErr("csfle"); err == nil {
		if b, ok := cs.BooleanOK(); ok && !b {
			why = append(why, "no CSFLE support")
		}
		if d, ok := cs.DocumentOK(); ok {
			if v, ok := d.Lookup("minLibmongocryptVersion").StringValueOK(); ok &&
				specCompareVersions(specParseVersion(specLibmongocryptVersion), specParseVersion(v)) < 0 {
				why = append(why, "libmongocrypt >= "+v)
			}
		}
	}
	if _, err := req.LookupErr("serverParameters"); err == nil {
		why = append(why, "server parameters (not checked by this runner)")
	}
	return strings.Join(why, ", ")
}

// specRawContains reports whether the extended JSON of d contains any of the words.
func specRawContains(d bson.Raw, words ...string) bool {
	s := d.String()
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// staticSkip applies the skip rules that do not depend on the server version: features the
// embedded server lacks, KMS material the test servers cannot serve, mongocryptd and
// crypt_shared specifics.
func (r *specRunner) staticSkip(t *testing.T, c *specCase) *specSkip {
	if s := specRealKMSSkip(c); s != nil {
		return s
	}
	if s := r.kms.missing(t, c); s != nil {
		return s
	}
	if realMongoDB {
		return nil
	}
	ferret := func(what, why string) *specSkip {
		return &specSkip{class: "FerretDB lacks " + what, reason: why + " (runs with MONGODB_URI)"}
	}
	if c.failPoint != nil {
		return ferret("fail points", "the test configures the failCommand fail point")
	}
	for _, op := range c.ops {
		if op.object == "testRunner" && op.name == "failPoint" {
			return ferret("fail points", "the test configures the failCommand fail point")
		}
		if specRawContains(op.args, `"$near"`, `"$nearSphere"`, `"$geoNear"`) {
			return ferret("geospatial queries", "the test expects MongoDB's answer to a $near query")
		}
		if op.expectError != nil {
			continue // refused by the client before anything is sent
		}
		if (op.name == "updateOne" || op.name == "updateMany") && op.args.Lookup("update").Type == bson.TypeArray {
			return ferret("pipeline updates", "the test updates with an aggregation pipeline")
		}
		if specRawContains(op.args, `"$addToSet"`) && specHasArrayValue(op.args.Lookup("update", "$addToSet")) {
			return ferret("nested arrays", "the test's $addToSet stores an array inside an array")
		}
		if op.name == "aggregate" {
			if s := specFerretPipeline(op.args.Lookup("pipeline")); s != "" {
				return ferret("parts of aggregation", s)
			}
		}
	}
	return nil
}

// specHasArrayValue reports whether a document has a field whose value is an array.
func specHasArrayValue(v bson.RawValue) bool {
	d, ok := v.DocumentOK()
	if !ok {
		return false
	}
	elems, _ := d.Elements()
	for _, e := range elems {
		if e.Value().Type == bson.TypeArray {
			return true
		}
	}
	return false
}

// specFerretPipeline tells why FerretDB cannot run an aggregation pipeline ("" if it can):
// $project does not evaluate field paths ("$keyAltNames" becomes a string), and a $project
// followed by $unwind drops the connection and leaks a tracked iterator, whose finalizer then
// panics the whole test binary.
func specFerretPipeline(p bson.RawValue) string {
	arr, ok := p.ArrayOK()
	if !ok {
		return ""
	}
	stages, _ := arr.Values()
	projected := false
	for _, st := range stages {
		d, _ := st.DocumentOK()
		if proj, ok := d.Lookup("$project").DocumentOK(); ok {
			projected = true
			fields, _ := proj.Elements()
			for _, f := range fields {
				if s, ok := f.Value().StringValueOK(); ok && strings.HasPrefix(s, "$") {
					return "$project with a field path expression is taken as a string literal"
				}
			}
		}
		if _, err := d.LookupErr("$unwind"); err == nil && projected {
			return "$project followed by $unwind drops the connection (and leaks an iterator whose finalizer panics the test binary)"
		}
	}
	return ""
}

// ---- running a case ----

// runCase runs c; it returns a *specSkip, an error describing the first mismatch, or nil.
func (r *specRunner) runCase(t *testing.T, c *specCase) error {
	if c.skipReason != "" {
		return &specSkip{class: "skipReason in the test file", reason: c.skipReason}
	}
	r, skip := r.forCase(t, c)
	if skip != nil {
		return skip
	}
	if s := r.staticSkip(t, c); s != nil {
		return s
	}
	// No deadline: with one, the driver adds maxTimeMS to every command.
	ctx := t.Context()
	if err := r.setUp(ctx, c); err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	ents := newSpecEntities()
	defer ents.close()
	for _, e := range c.entities {
		if err := r.createEntity(ctx, t, e, ents, c.legacy); err != nil {
			return fmt.Errorf("creating entity %s: %w", e, err)
		}
	}
	if c.failPoint != nil {
		if err := r.setup.Database("admin").RunCommand(ctx, c.failPoint).Err(); err != nil {
			return fmt.Errorf("configuring the fail point: %w", err)
		}
		defer r.disableFailPoint(c.failPoint)
	}
	ents.record(true)
	var opErr error
	for i, op := range c.ops {
		if err := r.runOp(ctx, t, c, op, ents); err != nil {
			opErr = fmt.Errorf("operation %d (%s.%s): %w", i, op.object, op.name, err)
			break
		}
	}
	ents.record(false)
	if opErr != nil {
		return fmt.Errorf("%w%s", opErr, ents.dump())
	}
	for _, ce := range c.events {
		if err := ents.checkEvents(ce, c.legacy); err != nil {
			return err
		}
	}
	for _, o := range c.outcome {
		if err := r.checkOutcome(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

func (r *specRunner) disableFailPoint(fp bson.Raw) {
	name, _ := fp.Lookup("configureFailPoint").StringValueOK()
	_ = r.setup.Database("admin").RunCommand(context.Background(),
		bson.D{{Key: "configureFailPoint", Value: name}, {Key: "mode", Value: "off"}}).Err()
}

// setUp drops and fills the collections of the case.
func (r *specRunner) setUp(ctx context.Context, c *specCase) error {
	wc := options.Collection().SetWriteConcern(writeconcern.Majority())
	for _, d := range c.initial {
		db := r.setup.Database(d.db)
		coll := db.Collection(d.coll, wc)
		switch {
		case d.encryptedFields != nil:
			if err := coll.Drop(ctx, options.DropCollection().SetEncryptedFields(d.encryptedFields)); err != nil {
				return fmt.Errorf("drop %s.%s: %w", d.db, d.coll, err)
			}
			if err := db.CreateCollection(ctx, d.coll, options.CreateCollection().SetEncryptedFields(d.encryptedFields)); err != nil {
				return fmt.Errorf("create %s.%s: %w", d.db, d.coll, err)
			}
		default:
			if err := coll.Drop(ctx); err != nil {
				return fmt.Errorf("drop %s.%s: %w", d.db, d.coll, err)
			}
			if !d.keyVault {
				for _, state := range []string{"enxcol_." + d.coll + ".esc", "enxcol_." + d.coll + ".ecoc"} {
					if err := db.Collection(state, wc).Drop(ctx); err != nil {
						return fmt.Errorf("drop %s.%s: %w", d.db, state, err)
					}
				}
			}
			if d.createOptions != nil {
				cmd := bson.D{{Key: "create", Value: d.coll}}
				elems, _ := d.createOptions.Elements()
				for _, e := range elems {
					cmd = append(cmd, bson.E{Key: e.Key(), Value: e.Value()})
				}
				cmd = append(cmd, bson.E{Key: "writeConcern", Value: bson.D{{Key: "w", Value: "majority"}}})
				if err := db.RunCommand(ctx, cmd).Err(); err != nil {
					return fmt.Errorf("create %s.%s: %w", d.db, d.coll, err)
				}
			} else if d.create && len(d.docs) == 0 {
				if err := db.CreateCollection(ctx, d.coll); err != nil {
					return fmt.Errorf("create %s.%s: %w", d.db, d.coll, err)
				}
			}
		}
		if len(d.docs) > 0 {
			docs := make([]any, len(d.docs))
			for i, doc := range d.docs {
				docs[i] = doc
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				return fmt.Errorf("insert into %s.%s: %w", d.db, d.coll, err)
			}
		}
	}
	return nil
}

// checkOutcome compares a collection with the expected documents: no extra keys at any level,
// key order aside; $$type is allowed (the legacy format uses it in outcomes).
func (r *specRunner) checkOutcome(ctx context.Context, want specCollData) error {
	coll := r.setup.Database(want.db).Collection(want.coll,
		options.Collection().SetReadPreference(readpref.Primary()).SetReadConcern(readconcern.Local()))
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("outcome: reading %s.%s: %w", want.db, want.coll, err)
	}
	var got []bson.Raw
	for cur.Next(ctx) {
		got = append(got, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		return err
	}
	if len(got) != len(want.docs) {
		return fmt.Errorf("outcome %s.%s: %d documents %v, want %d %v", want.db, want.coll, len(got), got, len(want.docs), want.docs)
	}
	for i := range got {
		if err := specMatch(fmt.Sprintf("outcome %s.%s[%d]", want.db, want.coll, i), specDocValue(want.docs[i]), specDocValue(got[i]), true, false, specMatchMode{}); err != nil {
			return err
		}
	}
	return nil
}

// ---- known failures ----

// specDeviation is a known way in which the library differs from the specification's tests:
// why, and a text that the failure message of an affected test contains.
// specDeviation is a known deviation. embeddedOnly marks one that comes from the embedded
// server's missing features: with MONGODB_URI the test may pass.
type specDeviation struct {
	why, match   string
	embeddedOnly bool
}

// specEmbeddedOnly reports whether every deviation of a test is due to the embedded server,
// against a real server (MONGODB_URI), where a pass is then expected too.
func specEmbeddedOnly(ids []string) bool {
	if !realMongoDB {
		return false
	}
	for _, id := range ids {
		if !specDeviations[id].embeddedOnly {
			return false
		}
	}
	return true
}

func specMatchDeviation(ids []string, err error) (string, bool) {
	for _, id := range ids {
		if strings.Contains(err.Error(), specDeviations[id].match) {
			return id, true
		}
	}
	return "", false
}
