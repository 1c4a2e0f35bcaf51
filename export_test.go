package mongocrypt

// ServerURIForTests returns the server the tests and examples run against (see TestMain).
func ServerURIForTests() string { return testURI }
