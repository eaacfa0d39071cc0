/*
 * proxy.c — trusted proxies and X-Forwarded-For: which address is the
 * client's when a load balancer stands in front of the node (proxy.h has
 * the rules and the header's layout).
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "pt.h"
#include "banned.h"

struct addr {
	int family;
	unsigned char b[16];
};

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };

/*
 * One address as text: "1.2.3.4", "1.2.3.4:80", "::1", "[::1]",
 * "[::1]:80".  Returns true with *a filled (mapped IPv6 as IPv4).
 */
static bool addr_parse(const char *s, size_t n, struct addr *a)
{
	char tmp[PROXY_ADDR_MAX + 8];
	const char *colon;

	if (n && s[0] == '[') {
		const char *e = memchr(s, ']', n);
		if (!e || (e + 1 != s + n && e[1] != ':'))
			return false;
		s++;
		n = (size_t)(e - s);
		if (memchr(s, ':', n) == NULL)
			return false; /* brackets hold IPv6 only */
	} else if ((colon = memchr(s, ':', n)) &&
		   !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) &&
		   memchr(s, '.', (size_t)(colon - s))) {
		n = (size_t)(colon - s); /* IPv4 with a port */
	}
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, tmp, a->b) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, a->b) != 1)
		return false;
	a->family = AF_INET6;
	if (memcmp(a->b, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->family = AF_INET;
	}
	return true;
}

static void addr_text(const struct addr *a, char *out, size_t n)
{
	if (!inet_ntop(a->family, a->b, out, (socklen_t)n) && n)
		out[0] = '\0';
}

static bool net_contains(const struct proxy_net *net, const struct addr *a)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->family != a->family)
		return false;
	if (memcmp(net->addr, a->b, full) != 0)
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & mask) == net->addr[full];
}

static bool list_match(const struct proxy_list *l, const struct addr *a)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (net_contains(&l->net[i], a))
			return true;
	return false;
}

const char *proxy_list_parse(const char *text, struct proxy_list *out,
			     char *why, size_t why_n)
{
	struct proxy_list l;
	const char *p = text ? text : "";

	memset(&l, 0, sizeof(l));
	for (;;) {
		p += strspn(p, " \t,");
		if (!*p)
			break;
		size_t n = strcspn(p, " \t,");
		const char *slash = memchr(p, '/', n);
		size_t an = slash ? (size_t)(slash - p) : n;
		struct addr a;
		uint64_t bits;

		if (l.n == PROXY_MAX_NETS) {
			snprintf(why, why_n, "more than %d entries",
				 PROXY_MAX_NETS);
			return why;
		}
		/* a network is written bare: no brackets, no port */
		if (!an || p[0] == '[' || !addr_parse(p, an, &a) ||
		    (a.family == AF_INET && memchr(p, ':', an))) {
			snprintf(why, why_n,
				 "'%.*s': not an IP address or ADDR/BITS",
				 (int)(n > 64 ? 64 : n), p);
			return why;
		}
		bits = a.family == AF_INET ? 32 : 128;
		if (slash && (pt_parse_u64(slash + 1, n - an - 1, &bits) ||
			      bits > (a.family == AF_INET ? 32u : 128u))) {
			snprintf(why, why_n,
				 "'%.*s': prefix length out of range",
				 (int)(n > 64 ? 64 : n), p);
			return why;
		}
		struct proxy_net *net = &l.net[l.n++];
		net->family = a.family;
		net->bits = (unsigned)bits;
		/* keep the network part only, so matching is a compare */
		for (unsigned i = 0; i < 16; i++) {
			unsigned left = i * 8 < bits ? (unsigned)bits - i * 8 : 0;
			unsigned char mask =
				left >= 8 ? 0xff
					  : (unsigned char)(0xff << (8 - left));
			net->addr[i] = a.b[i] & mask;
		}
		p += n;
	}
	if (out)
		*out = l;
	return NULL;
}

bool proxy_list_match(const struct proxy_list *l, const char *ip)
{
	struct addr a;
	return ip && addr_parse(ip, strlen(ip), &a) && list_match(l, &a);
}

void proxy_client_address(const struct proxy_list *l, const char *peer,
			  const char *xff, char *out, size_t out_n)
{
	struct addr cur;

	if (!peer || !addr_parse(peer, strlen(peer), &cur)) {
		snprintf(out, out_n, "%s", peer ? peer : "");
		return;
	}
	if (xff && list_match(l, &cur)) {
		/* from the right: each entry was written by the hop to its
		 * right, which we trust as long as cur is a trusted proxy */
		size_t end = strlen(xff);
		while (list_match(l, &cur)) {
			size_t start = end;
			struct addr next;
			while (start && xff[start - 1] != ',')
				start--;
			const char *s = xff + start;
			size_t n = end - start;
			while (n && (*s == ' ' || *s == '\t')) {
				s++;
				n--;
			}
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (!addr_parse(s, n, &next))
				break; /* "unknown", garbage: stop here */
			cur = next;
			if (!start)
				break;
			end = start - 1;
		}
	}
	addr_text(&cur, out, out_n);
}
