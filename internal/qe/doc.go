// Package qe implements the client side of MongoDB Queryable Encryption (FLE2): token
// derivation, the payloads a client sends to the server, and decryption of the values the
// server stores, byte for byte as libmongocrypt 1.20 produces and reads them.
//
// # Tokens
//
// Every index token is an HMAC-SHA-256 chain rooted at the TokenKey, the last 32 bytes of a
// 96-byte data key; see tokens.go for the chain.
package qe
