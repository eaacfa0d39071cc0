/*
 * netguard.c — the outbound address guard (netguard.h): two tables of
 * refused networks, the IPv6 forms that carry an IPv4 address, and the
 * libcurl glue that checks each socket before it connects.
 */
#include "netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

struct net4 {
	uint8_t a[4];
	unsigned bits;
	const char *why;
};

struct net6 {
	uint8_t a[16];
	unsigned bits;
	const char *why;
};

/* IANA IPv4 Special-Purpose Address Registry, the entries that are not
 * "globally reachable", and the cloud metadata services.  First match
 * wins: the narrow entries first. */
static const struct net4 refused4[] = {
	{ { 169, 254, 169, 254 }, 32, "cloud metadata" },
	{ { 168, 63, 129, 16 }, 32, "cloud metadata" },
	{ { 100, 100, 100, 200 }, 32, "cloud metadata" },
	{ { 0, 0, 0, 0 }, 8, "unspecified" },
	{ { 10, 0, 0, 0 }, 8, "private" },
	{ { 100, 64, 0, 0 }, 10, "shared address space (CGNAT)" },
	{ { 127, 0, 0, 0 }, 8, "loopback" },
	{ { 169, 254, 0, 0 }, 16, "link-local" },
	{ { 172, 16, 0, 0 }, 12, "private" },
	{ { 192, 0, 0, 0 }, 24, "IETF protocol assignments" },
	{ { 192, 0, 2, 0 }, 24, "documentation" },
	{ { 192, 31, 196, 0 }, 24, "AS112" },
	{ { 192, 52, 193, 0 }, 24, "AMT" },
	{ { 192, 88, 99, 0 }, 24, "6to4 relay anycast" },
	{ { 192, 168, 0, 0 }, 16, "private" },
	{ { 192, 175, 48, 0 }, 24, "AS112" },
	{ { 198, 18, 0, 0 }, 15, "benchmarking" },
	{ { 198, 51, 100, 0 }, 24, "documentation" },
	{ { 203, 0, 113, 0 }, 24, "documentation" },
	{ { 224, 0, 0, 0 }, 4, "multicast" },
	{ { 240, 0, 0, 0 }, 4, "reserved" }, /* and 255.255.255.255 */
};

#define V6(...) { __VA_ARGS__ }
/* IPv6, after the forms that embed an IPv4 address are taken apart;
 * anything outside 2000::/3 is refused after this table. */
static const struct net6 refused6[] = {
	{ V6(0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54),
	  128, "cloud metadata" },
	{ V6(0), 128, "unspecified" },
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback" },
	{ V6(0x00, 0x64, 0xff, 0x9b, 0x00, 0x01), 48, "local-use NAT64" },
	{ V6(0x01, 0x00), 64, "discard-only" },
	{ V6(0x20, 0x01, 0x0d, 0xb8), 32, "documentation" },
	{ V6(0x20, 0x01, 0x00, 0x00), 32, "Teredo" },
	{ V6(0x20, 0x01, 0x00, 0x02, 0, 0), 48, "benchmarking" },
	{ V6(0x20, 0x01, 0x00, 0x00), 23, "IETF protocol assignments" },
	{ V6(0x3f, 0xff), 20, "documentation" },
	{ V6(0xfc), 7, "unique local (private)" },
	{ V6(0xfe, 0x80), 10, "link-local" },
	{ V6(0xfe, 0xc0), 10, "site-local" },
	{ V6(0xff), 8, "multicast" },
};

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, net, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

const char *netguard_parse(const char *allow, struct netguard *out,
			   char *why, size_t why_n)
{
	return proxy_list_parse(allow ? allow : "", out ? &out->allow : NULL,
				why, why_n);
}

static bool allowed(const struct netguard *g, int family, const void *a)
{
	char text[PROXY_ADDR_MAX];
	if (!g || !g->allow.n)
		return false;
	if (!inet_ntop(family, a, text, sizeof(text)))
		return false;
	return proxy_list_match(&g->allow, text);
}

static const char *refused4_why(const struct netguard *g, const uint8_t a[4])
{
	if (allowed(g, AF_INET, a))
		return NULL;
	for (size_t i = 0; i < PT_ARRAY_LEN(refused4); i++)
		if (prefix_match(a, refused4[i].a, refused4[i].bits))
			return refused4[i].why;
	return NULL;
}

static const char *refused6_why(const struct netguard *g, const uint8_t a[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	static const uint8_t zero[12] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (allowed(g, AF_INET6, a))
		return NULL;
	/* the forms that carry an IPv4 address: judged by it.  ::/96
	 * (IPv4-compatible) minus :: and ::1, which are IPv6's own */
	if (!memcmp(a, mapped, 12) || !memcmp(a, nat64, 12))
		return refused4_why(g, a + 12);
	if (!memcmp(a, zero, 12) && (a[12] | a[13] | a[14] || a[15] > 1))
		return refused4_why(g, a + 12);
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
		return refused4_why(g, a + 2);
	for (size_t i = 0; i < PT_ARRAY_LEN(refused6); i++)
		if (prefix_match(a, refused6[i].a, refused6[i].bits))
			return refused6[i].why;
	if ((a[0] & 0xe0) != 0x20)
		return "reserved";
	return NULL;
}

const char *netguard_refused(const struct netguard *g,
			     const struct sockaddr *sa)
{
	if (!sa)
		return "not an IP address";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		return refused4_why(g, (const uint8_t *)&in->sin_addr);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		return refused6_why(g, in6->sin6_addr.s6_addr);
	}
	return "not an IP address";
}

const char *netguard_refused_text(const struct netguard *g, const char *ip)
{
	char buf[PROXY_ADDR_MAX + 2];
	uint8_t a[16];
	size_t n = ip ? strlen(ip) : 0;

	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']') {
		ip++;
		n -= 2;
	}
	if (!n || n >= sizeof(buf))
		return "not an IP address";
	memcpy(buf, ip, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return refused4_why(g, a);
	if (inet_pton(AF_INET6, buf, a) == 1)
		return refused6_why(g, a);
	return "not an IP address";
}

/* ---- libcurl ---- */

/* Called by libcurl for every socket it opens, with the address it is
 * about to connect() to. */
static curl_socket_t open_cb(void *arg, curlsocktype purpose,
			     struct curl_sockaddr *addr)
{
	struct netguard_ctx *ctx = arg;
	const char *why;

	if (purpose != CURLSOCKTYPE_IPCXN)
		why = "not an outbound connection";
	else
		why = netguard_refused(ctx->g, &addr->addr);
	if (why) {
		const void *p = NULL;
		if (addr->family == AF_INET)
			p = &((const struct sockaddr_in *)(void *)&addr->addr)
				     ->sin_addr;
		else if (addr->family == AF_INET6)
			p = &((const struct sockaddr_in6 *)(void *)&addr->addr)
				     ->sin6_addr;
		if (!p || !inet_ntop(addr->family, p, ctx->addr,
				     sizeof(ctx->addr)))
			snprintf(ctx->addr, sizeof(ctx->addr), "?");
		ctx->why = why;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

CURLcode netguard_curl(CURL *h, struct netguard_ctx *ctx,
		       const struct netguard *g, long max_redirs)
{
	CURLcode rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->g = g;
#define SET(opt, v)                                            \
	do {                                                   \
		if ((rc = curl_easy_setopt(h, opt, v)) != CURLE_OK) \
			return rc;                             \
	} while (0)
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* no proxy from the environment: its address would be the one
	 * checked, and it would reach whatever the URL names */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_OPENSOCKETFUNCTION, open_cb);
	SET(CURLOPT_OPENSOCKETDATA, ctx);
	SET(CURLOPT_FOLLOWLOCATION, max_redirs > 0 ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, max_redirs);
	SET(CURLOPT_NOSIGNAL, 1L);
#undef SET
	return CURLE_OK;
}

/* "scheme://" and then a host: libcurl reads "http:///x" (an empty
 * authority) as the host x, which is not what was written. */
static bool authority_given(const char *url)
{
	const char *p = strstr(url, "://");
	return p && p[3] && p[3] != '/' && p[3] != '?' && p[3] != '#';
}

const char *netguard_url_check(const struct netguard *g, const char *url,
			       char *why, size_t why_n, bool *forbidden)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	const char *res = NULL;

	*forbidden = false;
	if (!u) {
		snprintf(why, why_n, "out of memory");
		return why;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    !authority_given(url)) {
		snprintf(why, why_n, "not a URL with a scheme and a host");
		res = why;
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		snprintf(why, why_n, "only http:// and https:// URLs");
		res = why;
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(why, why_n, "no credentials in the URL");
		res = why;
		goto out;
	}
	const char *w = netguard_refused_text(g, host);
	if (w && strcmp(w, "not an IP address")) {
		snprintf(why, why_n, "refused address %s (%s)", host, w);
		*forbidden = true;
		res = why;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return res;
}
