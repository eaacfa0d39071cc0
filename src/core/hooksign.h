/*
 * hooksign.h — the signature of a webhook delivery.
 *
 *   Partage-Signature: t=1765111234,v1=5f1c…(64 hex digits)
 *
 * v1 is HMAC-SHA256, keyed with the hook's secret (the whole text shown
 * at creation, "whsec_…", as bytes), over the decimal timestamp t, a
 * '.', and the request body exactly as sent: "1765111234.{…}".  The
 * timestamp is signed so a receiver can refuse old deliveries replayed
 * (a tolerance of 5 minutes is usual), and the body is signed as bytes,
 * so a receiver checks it before parsing it.  Pure functions; libsodium
 * must be initialised.
 */
#ifndef PT_HOOKSIGN_H
#define PT_HOOKSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOOKSIGN_HEX_LEN 64
/* "t=" 20 digits ",v1=" 64 hex and a NUL */
#define HOOKSIGN_HEADER_MAX 96

/* The hex HMAC of "ts.body" under secret. */
void hooksign_hmac(const char *secret, int64_t ts, const char *body,
		   size_t n, char out[HOOKSIGN_HEX_LEN + 1]);
/* The header's value, "t=TS,v1=HEX", into out. */
void hooksign_header(const char *secret, int64_t ts, const char *body,
		     size_t n, char out[HOOKSIGN_HEADER_MAX]);
/* Does header sign body under secret, with t at most tolerance seconds
 * from now (0: any time)?  Constant time in the signature.  Several
 * "v1=" entries are allowed (any may match), unknown keys are
 * ignored. */
bool hooksign_verify(const char *secret, const char *header,
		     const char *body, size_t n, int64_t now,
		     int64_t tolerance);

#endif
