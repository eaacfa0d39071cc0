/*
 * runhash.h — a running SHA-256 and CRC-32 over a stream of bytes that can
 * be saved as a short line of text at any point and taken up again from
 * it, by another request or another node.
 *
 * A resumable upload hashes its bytes as they arrive and saves the state
 * with each durable offset (uploads.hash_state), so completing it does not
 * read the whole file back (blob_partial_commit).  The text says how many
 * bytes it covers: a state is only taken up at exactly that offset.
 */
#ifndef PT_RUNHASH_H
#define PT_RUNHASH_H

#include <stddef.h>
#include <stdint.h>

/* OpenSSL's SHA256_CTX without its header: the fields are saved one by
 * one (runhash.c), never the struct's bytes. */
struct runhash_sha {
	uint32_t h[8];
	uint32_t nl, nh;
	uint32_t data[16];
	unsigned int num, md_len;
};

struct runhash {
	struct runhash_sha sha;
	uint32_t crc;
	uint64_t bytes; /* bytes hashed */
};

/* The saved form: "r1 BYTES CRC H0..H7 NL NH NUM DATA" in hex, at most
 * this long with its NUL. */
#define RUNHASH_TEXT_MAX 256

void runhash_init(struct runhash *h);
void runhash_update(struct runhash *h, const void *p, size_t n);
/* The digest and CRC so far; h itself is left as it was. */
void runhash_final(const struct runhash *h, unsigned char sha256[32],
		   uint32_t *crc);
/* h as text into out (RUNHASH_TEXT_MAX). */
void runhash_save(const struct runhash *h, char out[RUNHASH_TEXT_MAX]);
/* Take a saved state up again: 0, or PT_EBADREQ when text is not one
 * (NULL, empty, another version, malformed: h is then unchanged). */
int runhash_load(struct runhash *h, const char *text);

#endif
