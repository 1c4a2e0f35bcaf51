// Package localkms serves local-kms (github.com/nsmithuk/local-kms), a real implementation of
// the AWS KMS API, over plain HTTP on loopback, for the tests of the library module. Those tests
// check the request (SigV4, TLS) themselves and forward the body here, so that the library
// module needs no dependency of local-kms.
//
// Each key ring is a local-kms database of its own, named by the first element of the request
// path: POST /{ring}/ with the X-Amz-Target header of the AWS API. Two targets are the test
// runner's own:
//
//   - Test.SeedKeys: body {"Arns": [...]} creates enabled AES keys under the given ARNs (of any
//     account and region), as the specification's tests need;
//   - Test.Close: closes the ring and removes its data.
package localkms

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nsmithuk/local-kms/src/cmk"
	"github.com/nsmithuk/local-kms/src/config"
	"github.com/nsmithuk/local-kms/src/data"
	"github.com/nsmithuk/local-kms/src/handler"
	"github.com/sirupsen/logrus"
)

// Region and AccountID are those of the keys CreateKey makes.
const (
	Region    = "us-east-1"
	AccountID = "111122223333"
)

// Handler serves the key rings. Its zero value is not usable; call New.
type Handler struct {
	dir    string
	logger *logrus.Logger

	mu    sync.Mutex
	rings map[string]*data.Database
}

var ringName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// New returns a handler whose databases live under dir.
func New(dir string) *Handler {
	config.AWSRegion = Region
	config.AWSAccountId = AccountID
	logger := logrus.New()
	logger.SetOutput(io.Discard)
	return &Handler{dir: dir, logger: logger, rings: map[string]*data.Database{}}
}

// Close closes every key ring.
func (h *Handler) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, db := range h.rings {
		db.Close()
		delete(h.rings, name)
	}
}

func (h *Handler) ring(name string) *data.Database {
	h.mu.Lock()
	defer h.mu.Unlock()
	db, ok := h.rings[name]
	if !ok {
		db = data.NewDatabase(filepath.Join(h.dir, name))
		h.rings[name] = db
	}
	return db
}

func (h *Handler) closeRing(name string) {
	h.mu.Lock()
	db, ok := h.rings[name]
	delete(h.rings, name)
	h.mu.Unlock()
	if ok {
		db.Close()
		os.RemoveAll(filepath.Join(h.dir, name))
	}
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	w.Write(b)
}

// ServeHTTP answers one AWS KMS request for the ring named by the path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(r.URL.Path, "/")
	if r.Method != http.MethodPost || !ringName.MatchString(name) {
		awsError(w, http.StatusNotFound, "UnknownOperationException", "POST /{ring}/ expected")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	switch target {
	case "Test.Close":
		h.closeRing(name)
		w.WriteHeader(http.StatusOK)
		return
	case "Test.SeedKeys":
		var in struct{ Arns []string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			awsError(w, http.StatusBadRequest, "SerializationException", err.Error())
			return
		}
		if err := seed(h.ring(name), in.Arns); err != nil {
			awsError(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	rh := handler.NewRequestHandler(r, h.logger, h.ring(name))
	var resp handler.Response
	switch target {
	case "TrentService.Encrypt":
		resp = rh.Encrypt()
	case "TrentService.Decrypt":
		resp = rh.Decrypt()
	case "TrentService.CreateKey":
		resp = rh.CreateKey()
	case "TrentService.DescribeKey":
		resp = rh.DescribeKey()
	case "TrentService.DisableKey":
		resp = rh.DisableKey()
	default:
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target "+target)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(resp.Code)
	io.WriteString(w, resp.Body)
}

// seed creates enabled AES keys under arns.
func seed(db *data.Database, arns []string) error {
	for _, arn := range arns {
		parts := strings.Split(arn, ":")
		if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[5], "key/") {
			return fmt.Errorf("not a key ARN: %q", arn)
		}
		key := cmk.NewAesKey(cmk.KeyMetadata{
			Arn: arn, KeyId: strings.TrimPrefix(parts[5], "key/"), AWSAccountId: parts[4],
			CreationDate: time.Now().Unix(), Enabled: true, KeyManager: "CUSTOMER",
			KeyState: cmk.KeyStateEnabled, Origin: cmk.KeyOriginAwsKms,
		}, "", cmk.KeyOriginAwsKms)
		if err := db.SaveKey(key); err != nil {
			return err
		}
	}
	return nil
}
