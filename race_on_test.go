//go:build race

package mongocrypt

// raceEnabled tells the tests that the race detector is on: sync.Pool then drops items on
// purpose, so allocation counts mean nothing.
const raceEnabled = true
