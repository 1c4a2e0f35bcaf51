package qe

// resetPayloadIDForTest restarts the payload id counter at 0, as libmongocrypt's
// mc_reset_payloadId_for_testing does before each explicit encryption test case.
func resetPayloadIDForTest() {
	payloadIDMu.Lock()
	nextPayloadID = 0
	payloadIDMu.Unlock()
}
