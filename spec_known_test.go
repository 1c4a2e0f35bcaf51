package mongocrypt

// The known failures of the conformance runner: deviations of the library from the
// specification's tests, and the tests each one makes fail. A listed test runs; it counts as
// a known failure only when it fails with one of its recorded deviations, and the run fails
// when it passes (remove it) or fails otherwise.

// specDeviations are the library's known deviations, by short name. match is a text of the
// runner's failure message for that deviation.
var specDeviations = map[string]specDeviation{
	"removekeyaltname-fallback": {
		why: "removeKeyAltName: the embedded server refuses the specification's pipeline update (NotImplemented), " +
			"so the library falls back to single-document updates (findAndModify $unset, findAndModify $pull, update); " +
			"on MongoDB it sends the one findAndModify",
		match:        "[started:findAndModify@keyvault, started:findAndModify@keyvault, started:findAndModify@keyvault",
		embeddedOnly: true,
	},

	"keyaltname-checks": {
		why: "createDataKey and addKeyAltName with keyAltNames: the library reads the key vault before (find) " +
			"and after (aggregate) the write to keep keyAltNames unique; the specification sends only the write " +
			"(uniqueness is a unique index's job)",
		match: "[started:find@keyvault, started:",
	},
}

// specKnownFailures maps suite/file (without .json)/test description to the deviations that
// make the test fail (the first one met ends the test).
var specKnownFailures = map[string][]string{
	"unified/removeKeyAltName/remove an existing keyAltName from an existing data key": {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove keyAltName from non-existent data key":            {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove non-existent keyAltName from existing data key":   {"removekeyaltname-fallback"},
	"unified/removeKeyAltName/remove the last keyAltName from an existing data key":    {"removekeyaltname-fallback"},
	"unified/addKeyAltName/add existing keyAltName to existing data key":               {"keyaltname-checks"},
	"unified/addKeyAltName/add keyAltName to non-existent data key":                    {"keyaltname-checks"},
	"unified/addKeyAltName/add new keyAltName to data key with no keyAltNames":         {"keyaltname-checks"},
	"unified/createDataKey/create datakey with single keyAltName":                      {"keyaltname-checks"},
	"unified/getKeys/getKeys with single key documents":                                {"keyaltname-checks"},
}
