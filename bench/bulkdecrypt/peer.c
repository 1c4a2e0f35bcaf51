// The Go tool skips this file: it is built by run.sh, not by cgo.
//go:build ignore

/*
 * peer: the bulk decryption benchmark of the client-side encryption specification
 * (source/client-side-encryption/tests/benchmarks.md) run through libmongocrypt's C API, the
 * reference for bench/bulkdecrypt/main.go. run.sh builds it with pkg-config libmongocrypt.
 *
 * One mongocrypt_t with the local KMS provider is shared by every thread. One decryption is:
 * mongocrypt_ctx_new, mongocrypt_ctx_decrypt_init on the document, the key document fed at
 * MONGOCRYPT_CTX_NEED_MONGO_KEYS (only until libmongocrypt caches the key), finalize, destroy.
 *
 * Usage:
 *   peer -key keyDocument.json -write-doc OUT           encrypt the bulk document, write it, exit
 *   peer -key keyDocument.json -doc DOC [options]       measure, decrypting the document in DOC
 * Options: -warmup SECONDS (1) -duration SECONDS (1) -trials N (10) -threads 1,2,8,64
 *          -explicit 0|1 (1)
 * Without -doc the document is the one this program encrypts itself.
 *
 * Output lines have the format of main.go, with impl=libmongocrypt.
 */
#define _POSIX_C_SOURCE 200809L

#include <bson/bson.h>
#include <mongocrypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NUM_FIELDS 1500
#define MAX_TRIALS 1000
#define DETERMINISTIC "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic"
#define RANDOM "AEAD_AES_256_CBC_HMAC_SHA_512-Random"

/* LOCAL_MASTER_KEY of libmongocrypt's bindings/python/test/performance/perf_test.py. */
static uint8_t local_master_key[96] = {
   0x9d, 0x94, 0x4b, 0x0d, 0x93, 0xd0, 0xc5, 0x44, 0xa5, 0x72, 0xfd, 0x32,
   0x1b, 0x94, 0x30, 0x90, 0x23, 0x35, 0x73, 0x7c, 0xf0, 0xf6, 0xc2, 0xf4,
   0xda, 0x23, 0x56, 0xe7, 0x8f, 0x04, 0xcc, 0xfa, 0xde, 0x75, 0xb4, 0x51,
   0x87, 0xf3, 0x8b, 0x97, 0xd7, 0x4b, 0x44, 0x3b, 0xac, 0x39, 0xa2, 0xc6,
   0x4d, 0x91, 0x00, 0x3e, 0xd1, 0xfa, 0x4a, 0x30, 0xc1, 0xd2, 0xc6, 0x5e,
   0xfb, 0xac, 0x41, 0xf2, 0x48, 0x13, 0x3c, 0x9b, 0x50, 0xfc, 0xa7, 0x24,
   0x7a, 0x2e, 0x02, 0x63, 0xa3, 0xc6, 0x16, 0x25, 0x51, 0x50, 0x78, 0x3e,
   0x0f, 0xd8, 0x6e, 0x84, 0xa6, 0xec, 0x8d, 0x2d, 0x24, 0x47, 0xe5, 0xaf,
};

static bson_t key_doc;          /* the data key document */
static bson_value_t key_id;     /* its _id, a UUID binary */

static void
die (const char *what, const char *msg)
{
   fprintf (stderr, "peer: %s: %s\n", what, msg ? msg : "(no message)");
   exit (1);
}

static double
now (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
die_ctx (const char *what, mongocrypt_ctx_t *ctx)
{
   mongocrypt_status_t *st = mongocrypt_status_new ();
   mongocrypt_ctx_status (ctx, st);
   die (what, mongocrypt_status_message (st, NULL));
}

/* run_ctx drives an initialized context to the end. When out is not NULL it receives a copy of
 * the result. Returns false (after printing why) on failure. */
static bool
run_ctx (mongocrypt_ctx_t *ctx, bson_t *out)
{
   for (;;) {
      switch (mongocrypt_ctx_state (ctx)) {
      case MONGOCRYPT_CTX_NEED_MONGO_KEYS: {
         mongocrypt_binary_t *b = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&key_doc),
                                                                   key_doc.len);
         bool ok = mongocrypt_ctx_mongo_feed (ctx, b) && mongocrypt_ctx_mongo_done (ctx);
         mongocrypt_binary_destroy (b);
         if (!ok) {
            return false;
         }
         break;
      }
      case MONGOCRYPT_CTX_READY: {
         mongocrypt_binary_t *res = mongocrypt_binary_new ();
         bool ok = mongocrypt_ctx_finalize (ctx, res);
         if (ok && out) {
            bson_t view;
            ok = bson_init_static (&view, mongocrypt_binary_data (res), mongocrypt_binary_len (res));
            if (ok) {
               bson_copy_to (&view, out);
            }
         }
         mongocrypt_binary_destroy (res);
         if (!ok) {
            return false;
         }
         break;
      }
      case MONGOCRYPT_CTX_DONE:
         return true;
      default:
         return false;
      }
   }
}

/* decrypt_doc decrypts a whole document (automatic decryption). */
static void
decrypt_doc (mongocrypt_t *crypt, const uint8_t *doc, uint32_t len, bson_t *out)
{
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *b = mongocrypt_binary_new_from_data ((uint8_t *) doc, len);
   if (!mongocrypt_ctx_decrypt_init (ctx, b) || !run_ctx (ctx, out)) {
      die_ctx ("decrypt", ctx);
   }
   mongocrypt_binary_destroy (b);
   mongocrypt_ctx_destroy (ctx);
}

/* encrypt_value encrypts {v: s} explicitly; out receives {v: <binary subtype 6>}. */
static void
encrypt_value (mongocrypt_t *crypt, const char *algorithm, const char *s, bson_t *out)
{
   bson_t in = BSON_INITIALIZER;
   BSON_APPEND_UTF8 (&in, "v", s);
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *id = mongocrypt_binary_new_from_data (key_id.value.v_binary.data,
                                                              key_id.value.v_binary.data_len);
   mongocrypt_binary_t *b = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (&in), in.len);
   if (!mongocrypt_ctx_setopt_key_id (ctx, id) || !mongocrypt_ctx_setopt_algorithm (ctx, algorithm, -1) ||
       !mongocrypt_ctx_explicit_encrypt_init (ctx, b) || !run_ctx (ctx, out)) {
      die_ctx ("explicit encrypt", ctx);
   }
   mongocrypt_binary_destroy (b);
   mongocrypt_binary_destroy (id);
   mongocrypt_ctx_destroy (ctx);
   bson_destroy (&in);
}

/* decrypt_value decrypts {v: <binary subtype 6>} explicitly. */
static void
decrypt_value (mongocrypt_t *crypt, const bson_t *in, bson_t *out)
{
   mongocrypt_ctx_t *ctx = mongocrypt_ctx_new (crypt);
   mongocrypt_binary_t *b = mongocrypt_binary_new_from_data ((uint8_t *) bson_get_data (in), in->len);
   if (!mongocrypt_ctx_explicit_decrypt_init (ctx, b) || !run_ctx (ctx, out)) {
      die_ctx ("explicit decrypt", ctx);
   }
   mongocrypt_binary_destroy (b);
   mongocrypt_ctx_destroy (ctx);
}

/* bulk_document builds {key0001: <"value 0001" encrypted>, ...} with explicit encryption. */
static void
bulk_document (mongocrypt_t *crypt, bson_t *doc)
{
   bson_init (doc);
   for (int i = 1; i <= NUM_FIELDS; i++) {
      char name[16], value[16];
      snprintf (name, sizeof name, "key%04d", i);
      snprintf (value, sizeof value, "value %04d", i);
      bson_t enc;
      bson_iter_t it;
      encrypt_value (crypt, DETERMINISTIC, value, &enc);
      if (!bson_iter_init_find (&it, &enc, "v")) {
         die ("explicit encrypt", "the result has no field v");
      }
      BSON_APPEND_VALUE (doc, name, bson_iter_value (&it));
      bson_destroy (&enc);
   }
}

static void
plain_document (bson_t *doc)
{
   bson_init (doc);
   for (int i = 1; i <= NUM_FIELDS; i++) {
      char name[16], value[16];
      snprintf (name, sizeof name, "key%04d", i);
      snprintf (value, sizeof value, "value %04d", i);
      BSON_APPEND_UTF8 (doc, name, value);
   }
}

/* The measured operations. */
enum op { OP_BULK, OP_ENCRYPT_DET, OP_ENCRYPT_RAND, OP_DECRYPT };

struct job {
   mongocrypt_t *crypt;
   enum op op;
   const uint8_t *doc; /* OP_BULK: the document */
   uint32_t len;
   const bson_t *ciphertext; /* OP_DECRYPT: {v: ciphertext} */
   double seconds;
};

static void
do_op (const struct job *j)
{
   bson_t out;
   switch (j->op) {
   case OP_BULK:
      decrypt_doc (j->crypt, j->doc, j->len, NULL);
      return;
   case OP_ENCRYPT_DET:
      encrypt_value (j->crypt, DETERMINISTIC, "value 0001", &out);
      break;
   case OP_ENCRYPT_RAND:
      encrypt_value (j->crypt, RANDOM, "value 0001", &out);
      break;
   case OP_DECRYPT:
      decrypt_value (j->crypt, j->ciphertext, &out);
      break;
   }
   bson_destroy (&out);
}

struct worker {
   pthread_t t;
   const struct job *job;
   long ops;
};

static long
loop (const struct job *j, double seconds)
{
   long n = 0;
   for (double start = now (); now () - start < seconds; n++) {
      do_op (j);
   }
   return n;
}

static void *
worker_main (void *arg)
{
   struct worker *w = arg;
   w->ops = loop (w->job, w->job->seconds);
   return NULL;
}

static int
cmp_double (const void *a, const void *b)
{
   double x = *(const double *) a, y = *(const double *) b;
   return (x > y) - (x < y);
}

/* measure prints the median, min and max of trials in which n threads run the job. */
static void
measure (const struct job *j, int n, int trials, const char *prefix)
{
   double results[MAX_TRIALS];
   struct worker *w = calloc ((size_t) n, sizeof *w);
   for (int t = 0; t < trials; t++) {
      double start = now ();
      for (int i = 0; i < n; i++) {
         w[i].job = j;
         if (pthread_create (&w[i].t, NULL, worker_main, &w[i]) != 0) {
            die ("pthread_create", "failed");
         }
      }
      long total = 0;
      for (int i = 0; i < n; i++) {
         pthread_join (w[i].t, NULL);
         total += w[i].ops;
      }
      results[t] = (double) total / (now () - start);
   }
   free (w);
   qsort (results, (size_t) trials, sizeof results[0], cmp_double);
   double median =
      trials % 2 ? results[trials / 2] : (results[trials / 2 - 1] + results[trials / 2]) / 2;
   printf ("%s threads=%d median_ops_per_sec=%.2f min=%.2f max=%.2f trials=%d\n", prefix, n, median,
           results[0], results[trials - 1], trials);
   fflush (stdout);
}

static uint8_t *
read_file (const char *path, size_t *len)
{
   FILE *f = fopen (path, "rb");
   if (!f) {
      die (path, "cannot open");
   }
   size_t cap = 1 << 16, n = 0;
   uint8_t *buf = malloc (cap);
   size_t k;
   while ((k = fread (buf + n, 1, cap - n, f)) > 0) {
      n += k;
      if (n == cap) {
         cap *= 2;
         buf = realloc (buf, cap);
      }
   }
   fclose (f);
   *len = n;
   return buf;
}

int
main (int argc, char **argv)
{
   const char *key_path = NULL, *doc_path = NULL, *write_doc = NULL, *threads = "1,2,8,64";
   double warmup = 1, duration = 1;
   int trials = 10, explicit_ops = 1;
   for (int i = 1; i < argc; i++) {
      const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (!v) {
         die (a, "missing value");
      }
      if (!strcmp (a, "-key")) {
         key_path = v;
      } else if (!strcmp (a, "-doc")) {
         doc_path = v;
      } else if (!strcmp (a, "-write-doc")) {
         write_doc = v;
      } else if (!strcmp (a, "-threads")) {
         threads = v;
      } else if (!strcmp (a, "-warmup")) {
         warmup = atof (v);
      } else if (!strcmp (a, "-duration")) {
         duration = atof (v);
      } else if (!strcmp (a, "-trials")) {
         trials = atoi (v);
      } else if (!strcmp (a, "-explicit")) {
         explicit_ops = atoi (v);
      } else {
         die (a, "unknown option");
      }
      i++;
   }
   if (!key_path) {
      die ("-key", "required");
   }
   if (trials < 1 || trials > MAX_TRIALS) {
      die ("-trials", "must be 1..1000");
   }

   /* The key document, from canonical or relaxed extended JSON. */
   size_t json_len;
   uint8_t *json = read_file (key_path, &json_len);
   bson_error_t berr;
   if (!bson_init_from_json (&key_doc, (const char *) json, (ssize_t) json_len, &berr)) {
      die (key_path, berr.message);
   }
   free (json);
   bson_iter_t it;
   if (!bson_iter_init_find (&it, &key_doc, "_id") || !BSON_ITER_HOLDS_BINARY (&it)) {
      die (key_path, "_id is not a binary");
   }
   bson_value_copy (bson_iter_value (&it), &key_id);

   mongocrypt_t *crypt = mongocrypt_new ();
   mongocrypt_binary_t *mk = mongocrypt_binary_new_from_data (local_master_key, sizeof local_master_key);
   mongocrypt_setopt_kms_provider_local (crypt, mk);
   if (!mongocrypt_init (crypt)) {
      mongocrypt_status_t *st = mongocrypt_status_new ();
      mongocrypt_status (crypt, st);
      die ("mongocrypt_init", mongocrypt_status_message (st, NULL));
   }
   mongocrypt_binary_destroy (mk);

   bson_t own;
   bulk_document (crypt, &own);
   if (write_doc) {
      FILE *f = fopen (write_doc, "wb");
      if (!f || fwrite (bson_get_data (&own), 1, own.len, f) != own.len || fclose (f) != 0) {
         die (write_doc, "cannot write");
      }
      return 0;
   }

   const uint8_t *doc = bson_get_data (&own);
   uint32_t doc_len = own.len;
   if (doc_path) {
      size_t n;
      doc = read_file (doc_path, &n);
      doc_len = (uint32_t) n;
   }

   printf ("version impl=libmongocrypt version=%s\n", mongocrypt_version (NULL));
   struct job bulk = {.crypt = crypt, .op = OP_BULK, .doc = doc, .len = doc_len};
   loop (&bulk, warmup);
   bson_t plain, out;
   plain_document (&plain);
   decrypt_doc (crypt, doc, doc_len, &out);
   if (!bson_equal (&plain, &out)) {
      die ("verification", "the decrypted bulk document differs from the plaintext document");
   }
   bson_destroy (&out);

   for (const char *p = threads; *p;) {
      char *end;
      long n = strtol (p, &end, 10);
      if (end == p || n < 1) {
         die ("-threads", "not a comma-separated list of positive counts");
      }
      bulk.seconds = duration;
      measure (&bulk, (int) n, trials, "bulkdecrypt impl=libmongocrypt");
      p = *end == ',' ? end + 1 : end;
   }

   if (explicit_ops) {
      bson_t ct;
      encrypt_value (crypt, DETERMINISTIC, "value 0001", &ct);
      struct {
         const char *name;
         enum op op;
      } ops[] = {{"encrypt-deterministic", OP_ENCRYPT_DET}, {"encrypt-random", OP_ENCRYPT_RAND},
                 {"decrypt", OP_DECRYPT}};
      for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
         struct job j = {.crypt = crypt, .op = ops[i].op, .ciphertext = &ct, .seconds = duration};
         char prefix[96];
         snprintf (prefix, sizeof prefix, "explicit impl=libmongocrypt op=%s", ops[i].name);
         loop (&j, warmup / 4);
         measure (&j, 1, trials, prefix);
      }
      bson_destroy (&ct);
   }
   mongocrypt_destroy (crypt);
   return 0;
}
