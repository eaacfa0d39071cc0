/*
 * netguard.h — where the server itself may connect: the outbound address
 * guard of remote uploads (api/remote.c) and webhooks.
 *
 * When partaged fetches a URL a client named, the client chooses where
 * the server connects: without a guard it reaches the loopback, the
 * private network behind the server, or the cloud's metadata service
 * (server-side request forgery).  Every outbound connection goes through
 * netguard_curl(), which makes libcurl
 *
 *   - speak http and https only (CURLOPT_PROTOCOLS_STR and
 *     CURLOPT_REDIR_PROTOCOLS_STR), never through a proxy;
 *   - check the address of every socket it opens, in
 *     CURLOPT_OPENSOCKETFUNCTION, after its own resolution and right before
 *     connect(): the address checked is the address connected, once per
 *     connection (a DNS answer that changes between a check and the
 *     connect cannot get through: there is no second resolution), and
 *     each redirect hop to a new host opens a new socket, checked again.
 *
 * Refused unless the operator allows them (net.allow): the special ranges
 * of the IANA IPv4 and IPv6 special-purpose registries that are not
 * global — "this network" and unspecified, loopback, private (RFC 1918,
 * IPv6 unique local), shared CGNAT space (100.64/10), link-local (with
 * 169.254.169.254, the metadata service of most clouds), IETF protocol
 * assignments (192.0.0/24, 2001::/23), documentation, benchmarking,
 * 6to4 relay anycast, multicast, reserved (240/4, broadcast), IPv6
 * site-local and everything outside 2000::/3 — and the cloud metadata
 * addresses that are not in one of those (Azure's 168.63.129.16,
 * Alibaba's 100.100.100.200 is in CGNAT anyway, AWS's fd00:ec2::254 in
 * unique local).  IPv6 forms that embed an IPv4 address — IPv4-mapped
 * (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96) and
 * 6to4 (2002::/16) — are judged by the IPv4 address they carry; Teredo
 * (2001::/32, an obfuscated IPv4 inside 2001::/23) is refused whole.
 *
 * net.allow lists networks (as server.trusted_proxies: "ADDR[/BITS]
 * ...") that pass whatever their range: "127.0.0.1/32" for tests, the
 * intranet's range where webhooks go to internal services.  Default:
 * none.  IPv4-mapped addresses match the allow list as IPv4.
 *
 * Pure functions on the caller's memory and thread-safe, but
 * netguard_curl's callback context lives as long as the easy handle.
 */
#ifndef PT_NETGUARD_H
#define PT_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "../util/proxy.h"

struct netguard {
	struct proxy_list allow;
};

/* Parse net.allow ("" = nothing allowed beyond the global Internet).
 * Returns NULL, or why the text is refused (written into why). */
const char *netguard_parse(const char *allow, struct netguard *out,
			   char *why, size_t why_n);

/*
 * Why the address may not be connected to ("loopback", "private",
 * "link-local", "cloud metadata"…, a static string), or NULL when it may:
 * a global address, or one that net.allow lists.  sa is AF_INET or
 * AF_INET6 (any other family is refused as "not an IP address").
 */
const char *netguard_refused(const struct netguard *g,
			     const struct sockaddr *sa);
/* The same for a textual address ("127.0.0.1", "::ffff:7f00:1", "[::1]"
 * with or without brackets); "not an IP address" when it is not one. */
const char *netguard_refused_text(const struct netguard *g, const char *ip);

/* What netguard_curl's socket callback saw: the last address it refused,
 * as text, and why (NULL: none refused). */
struct netguard_ctx {
	const struct netguard *g;
	const char *why;
	char addr[PROXY_ADDR_MAX];
};

/*
 * Set up an easy handle for a guarded transfer: the protocols, no proxy,
 * the socket callback on ctx (which must outlive the transfer; ctx->g =
 * g), at most max_redirs redirects followed (0: none).  Returns CURLE_OK
 * or the setopt's error.  After a failed transfer, ctx->why says whether
 * the guard refused an address (then the error is CURLE_COULDNT_CONNECT).
 */
CURLcode netguard_curl(CURL *h, struct netguard_ctx *ctx,
		       const struct netguard *g, long max_redirs);

/*
 * Check a URL before any transfer: http:// or https://, a host, no
 * credentials; a host that is an IP literal is checked now (a name is
 * checked at connect time, after its resolution).  Returns NULL, or a
 * one-line reason in why ("refused address 127.0.0.1 (loopback)") and
 * *forbidden set when the address, not the URL's form, is the problem.
 * Never blocks (no resolution).
 */
const char *netguard_url_check(const struct netguard *g, const char *url,
			       char *why, size_t why_n, bool *forbidden);

#endif
