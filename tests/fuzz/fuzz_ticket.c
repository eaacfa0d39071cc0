/*
 * fuzz_ticket.c — libFuzzer target for wait tickets (core/ticket.c).
 * Input: 8 bytes of "now" (little-endian, cut to 40 bits), 4 bytes of a
 * wait (cut to a year), then "ID\0IP\0TICKET" (missing parts are "").
 * Checks:
 *   - an arbitrary TICKET for ID and IP is refused (INVALID or MISSING)
 *     unless its MAC is the one ticket_issue makes for the numbers it
 *     carries: nobody forges a ticket without the key;
 *   - any accepted ticket's status agrees with its numbers and now
 *     (EARLY with retry_after = issued + wait - now, at least 1 and at
 *     most wait unless issued in the future (another node's clock); OK within
 *     TICKET_VALID of ready; EXPIRED past it);
 *   - a ticket issued for ID and IP verifies to the status its times say,
 *     fits TICKET_MAX, and is INVALID for another id, address or key.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ticket.h"
#include "util/pt.h"
#include "util/banned.h"

static const unsigned char key[TICKET_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char other[TICKET_KEY_LEN] = "fedcba9876543210fedcba987654321";

static void check_status(enum ticket_status st, int64_t issued, int64_t wait,
			 int64_t now, int64_t retry)
{
	int64_t ready = issued + wait;
	switch (st) {
	case TICKET_EARLY:
		PT_ASSERT(now < ready);
		PT_ASSERT(retry == ready - now);
		PT_ASSERT(retry >= 1 && (issued > now || retry <= wait));
		break;
	case TICKET_OK:
		PT_ASSERT(now >= ready && now <= ready + TICKET_VALID);
		break;
	case TICKET_EXPIRED:
		PT_ASSERT(now > ready + TICKET_VALID);
		break;
	default:
		PT_ASSERT(0);
	}
}

/* the numbers an accepted ticket carries: digits only (verify refused
 * anything else) */
static int64_t num(const char *s, const char *e)
{
	int64_t v = 0;
	PT_ASSERT(e > s && e - s <= 19);
	for (; s < e; s++) {
		PT_ASSERT(*s >= '0' && *s <= '9');
		v = v * 10 + (*s - '0');
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t un = 0, uw = 0;
	int64_t now, wait, retry = -1;
	char *buf, *id, *ip, *tk, *end, issued_tk[TICKET_MAX];
	size_t k = 0;

	PT_ASSERT(sodium_init() >= 0);
	for (; k < 8 && k < size; k++)
		un |= (uint64_t)data[k] << (8 * k);
	now = (int64_t)(un & ((UINT64_C(1) << 40) - 1));
	for (size_t i = 0; i < 4 && k < size; i++, k++)
		uw |= (uint64_t)data[k] << (8 * i);
	wait = (int64_t)(uw % (86400 * 365 + 1));
	buf = malloc(size - k + 3);
	memcpy(buf, data + k, size - k);
	memset(buf + size - k, 0, 3);
	end = buf + size - k;
	id = buf;
	ip = id + strlen(id) + 1;
	if (ip > end)
		ip = end;
	tk = ip + strlen(ip) + 1;
	if (tk > end)
		tk = end;

	/* an arbitrary ticket */
	enum ticket_status st = ticket_verify(key, tk, id, ip, now, &retry);
	if (!*tk)
		PT_ASSERT(st == TICKET_MISSING);
	else if (st != TICKET_INVALID) {
		const char *d1 = strchr(tk, '.'), *d2 = strchr(d1 + 1, '.');
		int64_t is = num(tk, d1), w = num(d1 + 1, d2);
		PT_ASSERT(st != TICKET_MISSING);
		check_status(st, is, w, now, retry);
		ticket_issue(key, id, ip, is, w, issued_tk);
		PT_ASSERT(strcmp(strrchr(issued_tk, '.'), d2) == 0);
		PT_ASSERT(ticket_verify(other, tk, id, ip, now, NULL) ==
			  TICKET_INVALID);
	}

	/* a real one, issued a little before or after now */
	int64_t issued = now - (int64_t)(size % 5000) + 2000;
	if (issued < 0)
		issued = 0;
	ticket_issue(key, id, ip, issued, wait, issued_tk);
	PT_ASSERT(strlen(issued_tk) < TICKET_MAX);
	retry = -1;
	st = ticket_verify(key, issued_tk, id, ip, now, &retry);
	check_status(st, issued, wait, now, retry);
	PT_ASSERT(ticket_verify(other, issued_tk, id, ip, now, NULL) ==
		  TICKET_INVALID);
	/* bound to the id and the address: change either and it is refused */
	size_t il = strlen(id), pl = strlen(ip);
	char *id2 = malloc(il + 2), *ip2 = malloc(pl + 2);
	memcpy(id2, id, il);
	memcpy(id2 + il, "x", 2);
	memcpy(ip2, ip, pl);
	memcpy(ip2 + pl, "1", 2);
	PT_ASSERT(ticket_verify(key, issued_tk, id2, ip, now, NULL) ==
		  TICKET_INVALID);
	PT_ASSERT(ticket_verify(key, issued_tk, id, ip2, now, NULL) ==
		  TICKET_INVALID);
	free(id2);
	free(ip2);
	free(buf);
	return 0;
}
