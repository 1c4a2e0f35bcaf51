package mongocrypt

// The validator shim: a wire proxy in front of the embedded FerretDB that gives it the one
// server feature the remote-schema tests need and it lacks, keeping collection validators.
// FerretDB refuses `create` with a validator; the shim removes the validator from `create`,
// remembers it, and adds it back as options.validator to the collections of `listCollections`
// replies, as MongoDB does. It does not validate documents (no test here relies on a
// validator rejecting a write). With MONGODB_URI the real server is used directly.
//
// Messages are read and parsed by internal/wire; an OP_MSG whose body is edited is written
// again by it (with a fresh checksum when the original had one). Other messages, and
// messages it cannot parse, pass through untouched.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

type specShim struct {
	ln     net.Listener
	target string

	mu         sync.Mutex
	validators map[string]bson.Raw // "db.coll" -> validator
}

var (
	specShimOnce sync.Once
	specShimURI  string
	specShimErr  error
)

// specStartValidatorShim starts the shim once for the test binary and returns a URI that
// reaches FerretDB through it.
func specStartValidatorShim(t *testing.T, uri string) string {
	t.Helper()
	specShimOnce.Do(func() {
		u, err := url.Parse(uri)
		if err != nil {
			specShimErr = err
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			specShimErr = err
			return
		}
		s := &specShim{ln: ln, target: u.Host, validators: map[string]bson.Raw{}}
		go s.accept()
		u.Host = ln.Addr().String()
		specShimURI = u.String()
	})
	if specShimErr != nil {
		t.Fatalf("starting the validator shim: %v", specShimErr)
	}
	return specShimURI
}

func (s *specShim) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c)
	}
}

func (s *specShim) serve(client net.Conn) {
	server, err := net.Dial("tcp", s.target)
	if err != nil {
		client.Close()
		return
	}
	// pending maps the requestID of a listCollections to its database.
	var mu sync.Mutex
	pending := map[int32]string{}
	done := make(chan struct{}, 2)
	go func() {
		s.pipe(client, server, func(m []byte) []byte {
			out, requestID, lcDB := s.request(m)
			if lcDB != "" {
				mu.Lock()
				pending[requestID] = lcDB
				mu.Unlock()
			}
			return out
		})
		done <- struct{}{}
	}()
	go func() {
		s.pipe(server, client, func(m []byte) []byte {
			h, err := wire.ParseHeader(m)
			if err != nil {
				return m
			}
			mu.Lock()
			db, ok := pending[h.ResponseTo]
			delete(pending, h.ResponseTo)
			mu.Unlock()
			if !ok {
				return m
			}
			return s.reply(m, db)
		})
		done <- struct{}{}
	}()
	<-done
	client.Close()
	server.Close()
	<-done
}

// pipe copies messages from src to dst through edit.
func (s *specShim) pipe(src, dst net.Conn, edit func([]byte) []byte) {
	for {
		m, err := wire.ReadMessage(src, wire.DefaultMaxMessageSize)
		if err != nil {
			return
		}
		if _, err := dst.Write(edit(m)); err != nil {
			return
		}
	}
}

// specParseMsg parses the OP_MSG m; ok is false for other messages and for bytes that do not
// parse, which are passed on untouched.
func specParseMsg(m []byte) (h wire.Header, msg *wire.Msg, ok bool) {
	p, err := wire.Parse(m)
	if err != nil || p.Msg == nil {
		return wire.Header{}, nil, false
	}
	return p.Header, p.Msg, true
}

// specReplaceBody returns the OP_MSG msg of header h with its body replaced, or m, the
// original bytes, when it cannot be written.
func specReplaceBody(m []byte, h wire.Header, msg *wire.Msg, body []byte) []byte {
	edited := *msg
	edited.Body = body
	out, err := edited.Append(nil, h.RequestID, h.ResponseTo)
	if err != nil {
		return m
	}
	return out
}

// request edits a client message; lcDB is the database of a listCollections.
func (s *specShim) request(m []byte) (out []byte, requestID int32, lcDB string) {
	h, msg, ok := specParseMsg(m)
	if !ok {
		return m, 0, ""
	}
	body := msg.Body
	first, err := body.IndexErr(0)
	if err != nil {
		return m, 0, ""
	}
	db, _ := body.Lookup("$db").StringValueOK()
	coll, _ := first.Value().StringValueOK()
	switch first.Key() {
	case "listCollections":
		return m, h.RequestID, db
	case "drop":
		s.mu.Lock()
		delete(s.validators, db+"."+coll)
		s.mu.Unlock()
	case "dropDatabase":
		s.mu.Lock()
		for k := range s.validators {
			if strings.HasPrefix(k, db+".") {
				delete(s.validators, k)
			}
		}
		s.mu.Unlock()
	case "create":
		v, err := body.LookupErr("validator")
		if err != nil {
			return m, 0, ""
		}
		s.mu.Lock()
		s.validators[db+"."+coll] = append(bson.Raw(nil), v.Document()...)
		s.mu.Unlock()
		elems, _ := body.Elements()
		idx, nb := bsoncore.AppendDocumentStart(nil)
		for _, e := range elems {
			if k := e.Key(); k != "validator" && k != "validationLevel" && k != "validationAction" {
				nb = append(nb, e...)
			}
		}
		nb, _ = bsoncore.AppendDocumentEnd(nb, idx)
		return specReplaceBody(m, h, msg, nb), 0, ""
	}
	return m, 0, ""
}

// reply adds the remembered validators to a listCollections reply of database db.
func (s *specShim) reply(m []byte, db string) []byte {
	h, msg, ok := specParseMsg(m)
	if !ok {
		return m
	}
	body := msg.Body
	s.mu.Lock()
	defer s.mu.Unlock()
	var doc bson.D
	if err := bson.Unmarshal(body, &doc); err != nil {
		return m
	}
	changed, err := specAddValidators(doc, db, s.validators)
	if err != nil || !changed {
		return m
	}
	nb, err := bson.Marshal(doc)
	if err != nil {
		return m
	}
	return specReplaceBody(m, h, msg, nb)
}

// specAddValidators sets options.validator in cursor.firstBatch entries of doc.
func specAddValidators(doc bson.D, db string, validators map[string]bson.Raw) (bool, error) {
	changed := false
	for i, e := range doc {
		if e.Key != "cursor" {
			continue
		}
		cur, ok := e.Value.(bson.D)
		if !ok {
			return false, errors.New("cursor is not a document")
		}
		for j, ce := range cur {
			if ce.Key != "firstBatch" {
				continue
			}
			batch, ok := ce.Value.(bson.A)
			if !ok {
				return false, errors.New("firstBatch is not an array")
			}
			for k, item := range batch {
				info, ok := item.(bson.D)
				if !ok {
					continue
				}
				var name string
				optIdx := -1
				for x, f := range info {
					switch f.Key {
					case "name":
						name, _ = f.Value.(string)
					case "options":
						optIdx = x
					}
				}
				v, ok := validators[db+"."+name]
				if !ok {
					continue
				}
				if optIdx < 0 {
					info = append(info, bson.E{Key: "options", Value: bson.D{}})
					optIdx = len(info) - 1
				}
				opts, ok := info[optIdx].Value.(bson.D)
				if !ok {
					return false, fmt.Errorf("options of %s is not a document", name)
				}
				info[optIdx].Value = append(opts, bson.E{Key: "validator", Value: v})
				batch[k] = info
				changed = true
			}
			cur[j].Value = batch
		}
		doc[i].Value = cur
	}
	return changed, nil
}
