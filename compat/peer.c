// The Go tool skips this file: peer_test.go builds it with cc and pkg-config, not cgo.
//go:build ignore

/*
 * peer: explicit CSFLE encryption and decryption through libmongocrypt's public C API, the
 * reference that peer_test.go compares this module with. No MongoDB server is involved: the key
 * document is read from a file and fed to libmongocrypt when it asks for keys
 * (MONGOCRYPT_CTX_NEED_MONGO_KEYS).
 *
 * Usage: peer -master MASTER_KEY_FILE -key KEY_DOCUMENT_FILE < REQUESTS > RESPONSES
 *
 *   MASTER_KEY_FILE     the 96 raw bytes of the local master key
 *   KEY_DOCUMENT_FILE   the data key's document, wrapped with that master key: BSON, or extended
 *                       JSON (canonical or relaxed) when the file is not one BSON document
 *
 * Framing: REQUESTS and RESPONSES are streams of BSON documents, back to back (each starts with
 * its int32 length). Every request gets exactly one response, in order:
 *
 *   {op: "version"}                       -> {version: <libmongocrypt version string>}
 *   {op: "encrypt", v: <any value>}       -> {det: <binData 6>} or {detError: <message>}, then
 *                                            {rand: <binData 6>} or {randError: <message>}:
 *                                            v encrypted with AEAD_AES_256_CBC_HMAC_SHA_512-
 *                                            Deterministic and -Random, under the key document's
 *                                            _id
 *   {op: "decrypt", v: <binData 6>}       -> {v: <the value>} or {error: <message>}
 *   {op: "datakey", keyMaterial: <binData 96 bytes>}
 *                                         -> {key: <a new key document, local KMS provider>} or
 *                                            {error: <message>}
 *
 * A request that is not understood gets {error: ...}; a framing error on stdin ends the program
 * with status 1.
 */
#include <bson/bson.h>
#include <mongocrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETERMINISTIC "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
#define RANDOM "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
#define MAX_DOC (16 * 1024 * 1024 + 16 * 1024)

static bson_t key_doc;     /* the data key document fed at NEED_MONGO_KEYS */
static bson_value_t key_id; /* its _id */

static void
fatal (const char *what, const char *msg)
{
   fprintf (stderr, "peer: %s: %s\n", what, msg ? msg : "(no message)");
   exit (1);
}

static uint8_t *
slurp (const char *path, size_t *len)
{
   FILE *f = fopen (path, "rb");
   if (!f) {
      fatal (path, "cannot open");
   }
   size_t cap = 4096, n = 0, k;
   uint8_t *buf = bson_malloc (cap);
   while ((k = fread (buf + n, 1, cap - n, f)) > 0) {
      n += k;
      if (n == cap) {
         cap *= 2;
         buf = bson_realloc (buf, cap);
      }
   }
   if (ferror (f)) {
      fatal (path, "read error");
   }
   fclose (f);
   *len = n;
   return buf;
}

/* load_key_doc reads the key document: BSON when the file is exactly one BSON document, else
 * extended JSON. */
static void
load_key_doc (const char *path)
{
   size_t len;
   uint8_t *data = slurp (path, &len);
   uint32_t declared = 0;
   if (len >= 5) {
      memcpy (&declared, data, 4);
      declared = BSON_UINT32_FROM_LE (declared);
   }
   if (len >= 5 && declared == len && data[len - 1] == 0) {
      bson_t view;
      if (!bson_init_static (&view, data, len)) {
         fatal (path, "invalid BSON");
      }
      bson_copy_to (&view, &key_doc);
   } else {
      bson_error_t err;
      if (!bson_init_from_json (&key_doc, (const char *) data, (ssize_t) len, &err)) {
         fatal (path, err.message);
      }
   }
   bson_free (data);
   bson_iter_t it;
   if (!bson_iter_init_find (&it, &key_doc, "_id") || !BSON_ITER_HOLDS_BINARY (&it)) {
      fatal (path, "the key document's _id is not a binary");
   }
   bson_value_copy (bson_iter_value (&it), &key_id);
}

/* ctx_error copies the context's error message into out under name. */
static void
ctx_error (mongocrypt_ctx_t *ctx, bson_t *out, const char *name)
{
   mongocrypt_status_t *st = mongocrypt_status_new ();
   mongocrypt_ctx_status (ctx, st);
   const char *msg = mongocrypt_status_message (st, NULL);
   bson_append_utf8 (out, name, -1, msg && *msg ? msg : "(libmongocrypt gave no message)", -1);
   mongocrypt_status_destroy (st);
}

/* run drives an initialized context to its end and copies the finalized document into result.
 * It returns false when the context failed; its status says why. */
static bool
run (mongocrypt_ctx_t *ctx, bson_t *result)
{
   for (;;) {
      switch (mongocrypt_ctx_state (ctx)) {
      case MONGOCRYPT_CTX_NEED_MONGO_KEYS: {
         mongocrypt_binary_t *b =
            mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&key_doc), key_doc.len);
         bool ok = mongocrypt_ctx_mongo_feed (ctx, b);
         mongocrypt_binary_destroy (b);
         if (!ok || !mongocrypt_ctx_mongo_done (ctx)) {
            return false;
         }
         break;
      }
      case MONGOCRYPT_CTX_READY: {
         mongocrypt_binary_t *out = mongocrypt_binary_new ();
         bool ok = mongocrypt_ctx_finalize (ctx, out);
         if (ok) {
            bson_t view;
            if (bson_init_static (&view, mongocrypt_binary_data (out), mongocrypt_binary_len (out))) {
               bson_copy_to (&view, result);
            } else {
               bson_init (result); /* an empty result: the caller reports it */
            }
         }
         mongocrypt_binary_destroy (out);
         if (!ok) {
            return false;
         }
         break;
      }
      case MONGOCRYPT_CTX_DONE:
         return true;
      default:
         /* ERROR, or a state a local-only explicit context never enters. */
         return false;
      }
   }
}

/* append_v appends the field "v" of doc to out under name; false if doc has none. */
static bool
append_v (const bson_t *doc, bson_t *out, const char *name)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, doc, "v")) {
      return false;
   }
   return bson_append_value (out, name, -1, bson_iter_value (&it));
}

/* encrypt_one encrypts {v: value} (the bytes of the request's v) with algorithm and appends
 * name: ciphertext or nameError: message. */
static void
encrypt_one (mongocrypt_t *crypt, const bson_t *in, const char *algorithm, const char *name, bson_t *out)
{
   char err_name[32];
   snprintf (err_name, sizeof err_name, "%sError", name);
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *id =
      mongocrypt_binary_new_from_data (key_id.value.v_binary.data, key_id.value.v_binary.data_len);
   mongocrypt_binary_t *msg = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (in), in->len);
   bson_t result = BSON_INITIALIZER;
   bool ok = mongocrypt_ctx_setopt_key_id (ctx, id) && mongocrypt_ctx_setopt_algorithm (ctx, algorithm, -1) &&
             mongocrypt_ctx_explicit_encrypt_init (ctx, msg) && run (ctx, &result);
   if (!ok) {
      ctx_error (ctx, out, err_name);
   } else if (!append_v (&result, out, name)) {
      bson_append_utf8 (out, err_name, -1, "peer: the encrypted result has no field v", -1);
   }
   bson_destroy (&result);
   mongocrypt_binary_destroy (msg);
   mongocrypt_binary_destroy (id);
   mongocrypt_ctx_destroy (ctx);
}

/* value_doc makes {v: <the request's v>}. */
static bool
value_doc (const bson_t *req, bson_t *doc)
{
   bson_init (doc);
   return append_v (req, doc, "v");
}

static void
do_encrypt (mongocrypt_t *crypt, const bson_t *req, bson_t *out)
{
   bson_t in;
   if (!value_doc (req, &in)) {
      bson_append_utf8 (out, "error", -1, "peer: encrypt needs a field v", -1);
   } else {
      encrypt_one (crypt, &in, DETERMINISTIC, "det", out);
      encrypt_one (crypt, &in, RANDOM, "rand", out);
   }
   bson_destroy (&in);
}

static void
do_decrypt (mongocrypt_t *crypt, const bson_t *req, bson_t *out)
{
   bson_t in;
   if (!value_doc (req, &in)) {
      bson_append_utf8 (out, "error", -1, "peer: decrypt needs a field v", -1);
      bson_destroy (&in);
      return;
   }
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *msg = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&in), in.len);
   bson_t result = BSON_INITIALIZER;
   if (!mongocrypt_ctx_explicit_decrypt_init (ctx, msg) || !run (ctx, &result)) {
      ctx_error (ctx, out, "error");
   } else if (!append_v (&result, out, "v")) {
      bson_append_utf8 (out, "error", -1, "peer: the decrypted result has no field v", -1);
   }
   bson_destroy (&result);
   mongocrypt_binary_destroy (msg);
   mongocrypt_ctx_destroy (ctx);
   bson_destroy (&in);
}

static void
do_datakey (mongocrypt_t *crypt, const bson_t *req, bson_t *out)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, req, "keyMaterial") || !BSON_ITER_HOLDS_BINARY (&it)) {
      bson_append_utf8 (out, "error", -1, "peer: datakey needs a binary keyMaterial", -1);
      return;
   }
   bson_t material = BSON_INITIALIZER, kek = BSON_INITIALIZER, result = BSON_INITIALIZER;
   bson_append_value (&material, "keyMaterial", -1, bson_iter_value (&it));
   bson_append_utf8 (&kek, "provider", -1, "local", -1);
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *m = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&material), material.len);
   mongocrypt_binary_t *k = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&kek), kek.len);
   if (!mongocrypt_ctx_setopt_key_encryption_key (ctx, k) || !mongocrypt_ctx_setopt_key_material (ctx, m) ||
       !mongocrypt_ctx_datakey_init (ctx) || !run (ctx, &result)) {
      ctx_error (ctx, out, "error");
   } else {
      bson_append_document (out, "key", -1, &result);
   }
   mongocrypt_binary_destroy (k);
   mongocrypt_binary_destroy (m);
   mongocrypt_ctx_destroy (ctx);
   bson_destroy (&result);
   bson_destroy (&kek);
   bson_destroy (&material);
}

/* read_doc reads the next BSON document of stdin into buf; false at a clean end of input. */
static bool
read_doc (uint8_t *buf, bson_t *doc)
{
   size_t n = fread (buf, 1, 4, stdin);
   if (n == 0 && feof (stdin)) {
      return false;
   }
   if (n != 4) {
      fatal ("stdin", "truncated document length");
   }
   uint32_t len;
   memcpy (&len, buf, 4);
   len = BSON_UINT32_FROM_LE (len);
   if (len < 5 || len > MAX_DOC) {
      fatal ("stdin", "bad document length");
   }
   if (fread (buf + 4, 1, len - 4, stdin) != len - 4) {
      fatal ("stdin", "truncated document");
   }
   if (!bson_init_static (doc, buf, len)) {
      fatal ("stdin", "invalid BSON document");
   }
   return true;
}

int
main (int argc, char **argv)
{
   const char *master_path = NULL, *key_path = NULL;
   for (int i = 1; i + 1 < argc; i += 2) {
      if (!strcmp (argv[i], "-master")) {
         master_path = argv[i + 1];
      } else if (!strcmp (argv[i], "-key")) {
         key_path = argv[i + 1];
      } else {
         fatal (argv[i], "unknown option");
      }
   }
   if (!master_path || !key_path || argc % 2 == 0) {
      fatal ("usage", "peer -master MASTER_KEY_FILE -key KEY_DOCUMENT_FILE < requests > responses");
   }

   size_t mk_len;
   uint8_t *mk = slurp (master_path, &mk_len);
   if (mk_len != 96) {
      fatal (master_path, "the local master key must be 96 bytes");
   }
   load_key_doc (key_path);

   /* The KMS providers document {local: {key: <binData 0>}}. */
   bson_t providers = BSON_INITIALIZER, local;
   bson_append_document_begin (&providers, "local", -1, &local);
   bson_append_binary (&local, "key", -1, BSON_SUBTYPE_BINARY, mk, (uint32_t) mk_len);
   bson_append_document_end (&providers, &local);
   bson_free (mk);

   mongocrypt_t *crypt = mongocrypt_new ();
   mongocrypt_binary_t *p = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&providers), providers.len);
   bool ok = mongocrypt_setopt_kms_providers (crypt, p) && mongocrypt_init (crypt);
   mongocrypt_binary_destroy (p);
   bson_destroy (&providers);
   if (!ok) {
      mongocrypt_status_t *st = mongocrypt_status_new ();
      mongocrypt_status (crypt, st);
      fatal ("mongocrypt_init", mongocrypt_status_message (st, NULL));
   }

   uint8_t *buf = bson_malloc (MAX_DOC);
   bson_t req;
   while (read_doc (buf, &req)) {
      bson_t out = BSON_INITIALIZER;
      bson_iter_t it;
      const char *op = bson_iter_init_find (&it, &req, "op") && BSON_ITER_HOLDS_UTF8 (&it)
                          ? bson_iter_utf8 (&it, NULL)
                          : "";
      if (!strcmp (op, "version")) {
         bson_append_utf8 (&out, "version", -1, mongocrypt_version (NULL), -1);
      } else if (!strcmp (op, "encrypt")) {
         do_encrypt (crypt, &req, &out);
      } else if (!strcmp (op, "decrypt")) {
         do_decrypt (crypt, &req, &out);
      } else if (!strcmp (op, "datakey")) {
         do_datakey (crypt, &req, &out);
      } else {
         bson_append_utf8 (&out, "error", -1, "peer: unknown op", -1);
      }
      if (fwrite (bson_get_data (&out), 1, out.len, stdout) != out.len) {
         fatal ("stdout", "write error");
      }
      bson_destroy (&out);
   }
   if (fflush (stdout) != 0) {
      fatal ("stdout", "write error");
   }
   bson_free (buf);
   bson_value_destroy (&key_id);
   bson_destroy (&key_doc);
   mongocrypt_destroy (crypt);
   return 0;
}
