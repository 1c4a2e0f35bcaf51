package wire

import (
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Command returns the command of m as the server reads it: the body with each document
// sequence appended as an array field named by its identifier. An identifier that is also a
// field of the body, or twice a sequence, is refused, as the server refuses it.
func (m *Msg) Command() (bson.Raw, error) {
	if len(m.Sequences) == 0 {
		return m.Body, nil
	}
	elems, err := m.Body.Elements()
	if err != nil {
		return nil, fmt.Errorf("wire: the OP_MSG body: %w", err)
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	seen := map[string]bool{}
	for _, e := range elems {
		seen[e.Key()] = true
		out = append(out, e...)
	}
	for _, seq := range m.Sequences {
		if seen[seq.Identifier] {
			return nil, fmt.Errorf("wire: the document sequence %q duplicates a field of the command", seq.Identifier)
		}
		seen[seq.Identifier] = true
		aidx, arr := bsoncore.AppendArrayElementStart(out, seq.Identifier)
		for i, d := range seq.Docs {
			arr = bsoncore.AppendDocumentElement(arr, strconv.Itoa(i), d)
		}
		if out, err = bsoncore.AppendArrayEnd(arr, aidx); err != nil {
			return nil, fmt.Errorf("wire: %w", err)
		}
	}
	out, err = bsoncore.AppendDocumentEnd(out, idx)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	return out, nil
}

// SplitSequences is the inverse of [Msg.Command] for a command rewritten from it (by
// encryption, say): the array fields named by seqs' identifiers leave the body and become
// document sequences again, so that a batch keeps the 48 MB message limit instead of the 16 MB
// document limit. A field of that name that is not an array of documents is refused.
func SplitSequences(cmd bson.Raw, seqs []Sequence) (bson.Raw, []Sequence, error) {
	if len(seqs) == 0 {
		return cmd, nil, nil
	}
	want := map[string]bool{}
	for _, s := range seqs {
		want[s.Identifier] = true
	}
	elems, err := cmd.Elements()
	if err != nil {
		return nil, nil, fmt.Errorf("wire: the command: %w", err)
	}
	var out []Sequence
	idx, body := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		arr, ok := e.Value().ArrayOK()
		if !want[e.Key()] || !ok {
			body = append(body, e...)
			continue
		}
		vals, err := arr.Values()
		if err != nil {
			return nil, nil, fmt.Errorf("wire: the sequence %q: %w", e.Key(), err)
		}
		seq := Sequence{Identifier: e.Key()}
		for _, v := range vals {
			d, ok := v.DocumentOK()
			if !ok {
				return nil, nil, fmt.Errorf("wire: the sequence %q holds a %s", e.Key(), v.Type)
			}
			seq.Docs = append(seq.Docs, d)
		}
		out = append(out, seq)
	}
	body, err = bsoncore.AppendDocumentEnd(body, idx)
	if err != nil {
		return nil, nil, fmt.Errorf("wire: %w", err)
	}
	return body, out, nil
}
