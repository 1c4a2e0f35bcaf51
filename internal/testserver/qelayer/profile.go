package qelayer

import (
	"fmt"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Profile is the server a listener claims to be. The zero Profile is FerretDB as it is: its
// own hello and buildInfo, a standalone server.
type Profile struct {
	Version  string // "8.0.0"; empty for FerretDB's own
	Topology string // TopologySingle, TopologyReplicaSet or TopologySharded; empty for FerretDB's own
}

// The topologies a profile may claim, named as the specification's runOn requirements name them.
const (
	TopologySingle     = "single"
	TopologyReplicaSet = "replicaset"
	TopologySharded    = "sharded"
)

// setName is the replica set name a replicaset profile reports.
const setName = "qelayer"

// electionID is the electionId a replicaset profile reports: one primary, never re-elected.
var electionID = bson.ObjectID{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}

// wireVersions maps a server's major.minor version to its maxWireVersion (the server's
// src/mongo/db/wire_version.h; 9.0 is WIRE_VERSION_90 = 29, which is also the newest the Go
// driver v2.10 supports, driverutil.MaxWireVersion).
var wireVersions = map[string]int32{
	"6.0": 17,
	"7.0": 21,
	"8.0": 25,
	"8.1": 26,
	"8.2": 27,
	"9.0": 29,
}

// isDefault tells whether p is FerretDB's own.
func (p Profile) isDefault() bool { return p == Profile{} }

// versionArray returns the four numbers of buildInfo's versionArray.
func (p Profile) versionArray() ([4]int32, error) {
	var out [4]int32
	parts := strings.Split(p.Version, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, fmt.Errorf("qelayer: version %q is not major.minor.patch", p.Version)
	}
	for i, s := range parts {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return out, fmt.Errorf("qelayer: version %q is not major.minor.patch", p.Version)
		}
		out[i] = int32(n)
	}
	return out, nil
}

// major returns the major version, 0 for FerretDB's own.
func (p Profile) major() int32 {
	v, err := p.versionArray()
	if err != nil {
		return 0
	}
	return v[0]
}

func (p Profile) maxWireVersion() (int32, bool) {
	v, err := p.versionArray()
	if err != nil {
		return 0, false
	}
	w, ok := wireVersions[fmt.Sprintf("%d.%d", v[0], v[1])]
	return w, ok
}

func (p Profile) validate() error {
	if p.isDefault() {
		return nil
	}
	switch p.Topology {
	case TopologySingle, TopologyReplicaSet, TopologySharded:
	default:
		return fmt.Errorf("qelayer: topology %q is not %q, %q or %q", p.Topology, TopologySingle, TopologyReplicaSet, TopologySharded)
	}
	if _, err := p.versionArray(); err != nil {
		return err
	}
	if _, ok := p.maxWireVersion(); !ok {
		return fmt.Errorf("qelayer: version %q has no known wire version (known: 6.0, 7.0, 8.0, 8.1, 8.2, 9.0)", p.Version)
	}
	return nil
}

// editHello rewrites FerretDB's reply to a hello or isMaster for the profile of ln.
func (ln *listener) editHello(reply bson.D) bson.D {
	p := ln.profile
	if p.isDefault() {
		return reply
	}
	w, _ := p.maxWireVersion()
	drop := map[string]bool{
		"maxWireVersion": true, "setName": true, "hosts": true, "primary": true, "me": true,
		"setVersion": true, "electionId": true, "msg": true, "secondary": true,
		"logicalSessionTimeoutMinutes": true,
	}
	out := bson.D{}
	var ok any = 1.0
	for _, e := range reply {
		if e.Key == "ok" {
			ok = e.Value
			continue
		}
		if !drop[e.Key] {
			out = append(out, e)
		}
	}
	out = append(out,
		bson.E{Key: "maxWireVersion", Value: w},
		bson.E{Key: "logicalSessionTimeoutMinutes", Value: int32(30)})
	switch p.Topology {
	case TopologyReplicaSet:
		out = append(out,
			bson.E{Key: "setName", Value: setName},
			bson.E{Key: "setVersion", Value: int32(1)},
			bson.E{Key: "hosts", Value: bson.A{ln.addr}},
			bson.E{Key: "primary", Value: ln.addr},
			bson.E{Key: "me", Value: ln.addr},
			bson.E{Key: "secondary", Value: false},
			bson.E{Key: "electionId", Value: electionID})
	case TopologySharded:
		out = append(out, bson.E{Key: "msg", Value: "isdbgrid"})
	}
	return append(out, bson.E{Key: "ok", Value: ok})
}

// editBuildInfo rewrites FerretDB's reply to buildInfo for the profile of ln.
func (ln *listener) editBuildInfo(reply bson.D) bson.D {
	p := ln.profile
	if p.isDefault() {
		return reply
	}
	v, _ := p.versionArray()
	for i, e := range reply {
		switch e.Key {
		case "version":
			reply[i].Value = fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
		case "versionArray":
			reply[i].Value = bson.A{v[0], v[1], v[2], v[3]}
		}
	}
	return reply
}
