/*
 * ticket.h — download wait tickets: proof that a client asked for a file
 * at least `wait` seconds ago, with no server-side state.
 *
 *   ticket = ISSUED "." WAIT "." base64url(HMAC(secret, id NUL ip NUL
 *            ISSUED NUL WAIT))
 *
 * Bound to the file id and the client address, valid from ISSUED+WAIT for
 * TICKET_VALID seconds.  Any node with the same secret verifies it.
 */
#ifndef PT_TICKET_H
#define PT_TICKET_H

#include <stddef.h>
#include <stdint.h>

#define TICKET_KEY_LEN 32
#define TICKET_MAX 128
#define TICKET_VALID 3600

enum ticket_status {
	TICKET_OK = 0,
	TICKET_MISSING,  /* no ticket given */
	TICKET_INVALID,  /* forged, other file or address, malformed */
	TICKET_EARLY,    /* valid, but the wait is not over: *retry_after */
	TICKET_EXPIRED   /* valid, but too old */
};

void ticket_issue(const unsigned char key[TICKET_KEY_LEN], const char *id,
		  const char *ip, int64_t now, int64_t wait,
		  char out[TICKET_MAX]);
enum ticket_status ticket_verify(const unsigned char key[TICKET_KEY_LEN],
				 const char *ticket, const char *id,
				 const char *ip, int64_t now,
				 int64_t *retry_after);

#endif
