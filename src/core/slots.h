/*
 * slots.h — the downloads each client address has going, for the tiers'
 * parallel_downloads and connections_per_download limits, and the wait
 * countdowns of ticketless downloads.
 *
 * One download is one (address, id), however many connections carry it:
 * parallel_downloads counts distinct ids, connections_per_download the
 * connections of one id.  Each connection is recorded with its socket, so
 * a connection whose peer has gone (FIN or RST seen by the kernel: the
 * client closed or was killed) stops counting at once, before the engine reports
 * its response over: a resume right after a drop finds its slot free.
 *
 * A countdown is the wait of a ticketless download, bound to (address,
 * id): it starts at the first request and lives until TICKET_VALID
 * seconds after it ended, so a client that reconnects or resumes goes on
 * with the same countdown.
 *
 * A cooldown is the pause an address must make, on a free tier, between
 * the end of one download and the start of the next of another file.
 *
 * The tables are bounded (SLOTS_MAX addresses with downloads going,
 * SLOTS_COUNTDOWNS countdowns and
 * cooldowns) and thread-safe; a full table refuses
 * rather than grows.  Nothing here blocks beyond one mutex.
 */
#ifndef PT_SLOTS_H
#define PT_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#define SLOTS_MAX 65536
#define SLOTS_COUNTDOWNS 65536
/* connections one address may have recorded at once, all downloads */
#define SLOTS_CONNS_MAX 64
#define SLOTS_ID_MAX 64

struct slots;

struct slots *slots_new(void);
void slots_free(struct slots *s);

enum slots_result {
	SLOTS_OK = 0,
	SLOTS_PARALLEL,	   /* the address has `parallel` other downloads */
	SLOTS_CONNECTIONS, /* this download has all its connections */
	SLOTS_FULL	   /* the table is full */
};

struct slots_claim {
	const char *ip;
	const char *id;	      /* what is downloaded (a file or folder id) */
	int fd;		      /* the connection's socket, -1: unknown */
	uint64_t parallel;    /* downloads per address; 0: any */
	uint64_t connections; /* connections per download; 0: any */
};

/* Record a connection of download (ip, id) if the limits allow it.
 * SLOTS_OK sets *token (0 when both limits are 0: nothing recorded);
 * every nonzero token must be released once.  SLOTS_PARALLEL copies the
 * id of one of the other downloads into other (when not NULL). */
enum slots_result slots_acquire(struct slots *s, const struct slots_claim *c,
				uint64_t *token, char other[SLOTS_ID_MAX]);
void slots_release(struct slots *s, const char *ip, uint64_t token);
/* Downloads (distinct ids, live connections) ip has going now. */
uint64_t slots_held(struct slots *s, const char *ip);

/* The live connections of download (ip, id) into *mine, and the other
 * downloads (distinct ids) of ip into *others, as the last acquisition
 * probed them: what this node adds to the cluster's counts
 * (api/cluster.c). */
void slots_counts(struct slots *s, const char *ip, const char *id,
		  uint64_t *mine, uint64_t *others);

/* When the wait of (ip, id) ends, in pt_now() seconds: the first call
 * starts it at now; later calls return the same moment until it is
 * TICKET_VALID seconds old.  0 when the table is full. */
int64_t slots_countdown(struct slots *s, const char *ip, const char *id,
			int64_t now, int64_t wait);

/* Cooldown between downloads: a download of id by ip ended now; until
 * now + secs, a download of another id by ip waits (the same id does not:
 * a resume goes on).  No-op for secs 0 or a full table. */
void slots_cooldown_start(struct slots *s, const char *ip, const char *id,
			  int64_t now, int64_t secs);
/* The end of ip's cooldown for a download of id, or 0 when there is
 * none (none left, or the last download was of id). */
int64_t slots_cooldown_until(struct slots *s, const char *ip, const char *id,
			     int64_t now);

#endif
