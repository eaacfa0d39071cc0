/*
 * ids.h — identifiers and secret tokens.
 *
 * Link ids: ID_LEN characters of [0-9A-Za-z] from the OS CSPRNG (libsodium
 * randombytes, unbiased); resumable upload ids are the same with
 * UPLOAD_UID_LEN (24) characters (id_fill).  Tokens (delete, session, API): 32 random bytes,
 * shown to the user as 43 characters of unpadded base64url and stored only
 * as their SHA-256 hex, compared in constant time.
 */
#ifndef PT_IDS_H
#define PT_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ID_LEN 12
#define TOKEN_LEN 43
#define TOKEN_HASH_LEN 64

/* libsodium must be initialised (sodium_init) before any of these. */
void id_new(char out[ID_LEN + 1]);
/* n random characters of the link ids' alphabet, then a NUL: out holds
 * n + 1 bytes.  id_new is id_fill(out, ID_LEN). */
void id_fill(char *out, size_t n);
bool id_valid(const char *s, size_t n);
void token_new(char out[TOKEN_LEN + 1]);
/* SHA-256 hex of the token text. */
void token_hash(const char *token, size_t n, char out[TOKEN_HASH_LEN + 1]);
/* Does token hash to `stored_hex`?  Constant time in the token. */
bool token_check(const char *token, size_t n, const char *stored_hex);

#endif
