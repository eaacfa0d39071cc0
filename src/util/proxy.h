/*
 * proxy.h — the client's address behind trusted reverse proxies (a load
 * balancer in front of several nodes), from X-Forwarded-For.
 *
 * Per-address limits (parallel downloads, failed logins, the unknown-id
 * rate) and wait tickets are keyed by the client's address.  Behind a
 * balancer every connection comes from the balancer, so a node must take
 * the address the balancer saw — but only from a peer it trusts, or any
 * client could name itself anybody with one header.
 *
 *   server.trusted_proxies = 127.0.0.1 10.0.0.0/8 fd00::/8
 *
 * Each proxy on the way appends the address it received the request from:
 *
 *   X-Forwarded-For: <what the client claims>, <proxy 1's peer>, ...
 *   (peer of this node: the last proxy)
 *
 * so the list is read from the right: while the address at hand is a
 * trusted proxy, step to the entry on its left.  The first address that is
 * not trusted is the client.  Entries to its left are the client's own
 * claims and are ignored; an entry that is not an address stops the walk
 * at the last proxy that wrote a valid one.  Several X-Forwarded-For
 * header lines count as one list joined in order (RFC 9110 §5.3).
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are taken as IPv4.  Pure
 * functions on the caller's memory; thread-safe.
 */
#ifndef PT_PROXY_H
#define PT_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_MAX_NETS 32
#define PROXY_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

struct proxy_net {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char addr[16];   /* network bytes, host bits cleared */
	unsigned bits;            /* prefix length */
};

struct proxy_list {
	size_t n;
	struct proxy_net net[PROXY_MAX_NETS];
};

/*
 * Parse "ADDR[/BITS] ..." (spaces or commas between entries; empty: no
 * proxy is trusted) into out, which may be NULL to only check.  Returns
 * NULL, or why the text is refused ("'10.0.0.0/33': prefix length out of
 * range") written into why (why_n bytes).
 */
const char *proxy_list_parse(const char *text, struct proxy_list *out,
			     char *why, size_t why_n);

/* Is the textual address ip inside one of l's networks? */
bool proxy_list_match(const struct proxy_list *l, const char *ip);

/*
 * The client's address: `peer` (the socket's peer, text) unless it is a
 * trusted proxy, else the walk described at the top over `xff` (NULL or
 * the joined X-Forwarded-For values).  Written to out (out_n bytes,
 * PROXY_ADDR_MAX is enough) in canonical text form.
 */
void proxy_client_address(const struct proxy_list *l, const char *peer,
			  const char *xff, char *out, size_t out_n);

#endif
