//go:build !race

package mongocrypt

// raceEnabled tells the tests that the race detector is on (see race_on_test.go).
const raceEnabled = false
