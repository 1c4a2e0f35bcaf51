package mongocrypt

// The validator shim: a wire proxy in front of the embedded FerretDB that gives it the one
// server feature the remote-schema tests need and it lacks, keeping collection validators.
// FerretDB refuses `create` with a validator; the shim removes the validator from `create`,
// remembers it, and adds it back as options.validator to the collections of `listCollections`
// replies, as MongoDB does. It does not validate documents (no test here relies on a
// validator rejecting a write). With MONGODB_URI the real server is used directly.
//
// Messages are OP_MSG: header(16) = messageLength(4) || requestID(4) || responseTo(4) ||
// opCode(4); then flagBits(4) || sections || [CRC-32C(4) when flagBits bit 0 is set]; a
// section is kind 0 || BSON body, or kind 1 || size(4) || identifier cstring || documents.
// Messages with a checksum and other opcodes pass through untouched.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

const (
	specOpMsg          = 2013
	specMsgHeaderLen   = 16
	specMaxMessageSize = 48 << 20
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
			out, lcDB := s.request(m)
			if lcDB != "" {
				mu.Lock()
				pending[int32(binary.LittleEndian.Uint32(m[4:8]))] = lcDB
				mu.Unlock()
			}
			return out
		})
		done <- struct{}{}
	}()
	go func() {
		s.pipe(server, client, func(m []byte) []byte {
			responseTo := int32(binary.LittleEndian.Uint32(m[8:12]))
			mu.Lock()
			db, ok := pending[responseTo]
			delete(pending, responseTo)
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
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		n := int(int32(binary.LittleEndian.Uint32(hdr[:])))
		if n < specMsgHeaderLen || n > specMaxMessageSize {
			return
		}
		m := make([]byte, n)
		copy(m, hdr[:])
		if _, err := io.ReadFull(src, m[4:]); err != nil {
			return
		}
		if _, err := dst.Write(edit(m)); err != nil {
			return
		}
	}
}

// specMsgBody returns the kind-0 body of an OP_MSG without checksum, and the byte offsets of
// the body within m.
func specMsgBody(m []byte) (body bson.Raw, start, end int, ok bool) {
	if len(m) < specMsgHeaderLen+5 || binary.LittleEndian.Uint32(m[12:16]) != specOpMsg {
		return nil, 0, 0, false
	}
	if binary.LittleEndian.Uint32(m[16:20])&1 != 0 {
		return nil, 0, 0, false // checksum present: leave the message alone
	}
	i := 20
	for i < len(m) {
		kind := m[i]
		i++
		if i+4 > len(m) {
			return nil, 0, 0, false
		}
		size := int(int32(binary.LittleEndian.Uint32(m[i : i+4])))
		if size < 5 || i+size > len(m) {
			return nil, 0, 0, false
		}
		if kind == 0 {
			return bson.Raw(m[i : i+size]), i, i + size, true
		}
		if kind != 1 {
			return nil, 0, 0, false
		}
		i += size
	}
	return nil, 0, 0, false
}

// specReplaceBody returns m with its body replaced.
func specReplaceBody(m []byte, start, end int, body []byte) []byte {
	out := make([]byte, 0, len(m)-(end-start)+len(body))
	out = append(out, m[:start]...)
	out = append(out, body...)
	out = append(out, m[end:]...)
	binary.LittleEndian.PutUint32(out[0:4], uint32(len(out)))
	return out
}

// request edits a client message; lcDB is the database of a listCollections.
func (s *specShim) request(m []byte) (out []byte, lcDB string) {
	body, start, end, ok := specMsgBody(m)
	if !ok {
		return m, ""
	}
	first, err := body.IndexErr(0)
	if err != nil {
		return m, ""
	}
	db, _ := body.Lookup("$db").StringValueOK()
	coll, _ := first.Value().StringValueOK()
	switch first.Key() {
	case "listCollections":
		return m, db
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
			return m, ""
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
		return specReplaceBody(m, start, end, nb), ""
	}
	return m, ""
}

// reply adds the remembered validators to a listCollections reply of database db.
func (s *specShim) reply(m []byte, db string) []byte {
	body, start, end, ok := specMsgBody(m)
	if !ok {
		return m
	}
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
	return specReplaceBody(m, start, end, nb)
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
