/*
 * test_netguard.c — the outbound address guard against a table of
 * addresses: the edges of every refused range in IPv4 and IPv6 (first
 * and last address, and the neighbours outside), the IPv6 forms that
 * embed an IPv4 address, the allow list, and URL checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "core/netguard.h"
#include "util/banned.h"

struct row {
	const char *ip;
	const char *why; /* NULL: allowed */
};

static const struct row rows[] = {
	/* the global Internet */
	{ "1.1.1.1", NULL },
	{ "8.8.8.8", NULL },
	{ "93.184.216.34", NULL },
	{ "2606:4700:4700::1111", NULL },
	{ "2001:4860:4860::8888", NULL },
	/* 0/8 */
	{ "0.0.0.0", "unspecified" },
	{ "0.255.255.255", "unspecified" },
	{ "1.0.0.0", NULL },
	/* 10/8 */
	{ "9.255.255.255", NULL },
	{ "10.0.0.0", "private" },
	{ "10.255.255.255", "private" },
	{ "11.0.0.0", NULL },
	/* 100.64/10 */
	{ "100.63.255.255", NULL },
	{ "100.64.0.0", "shared address space (CGNAT)" },
	{ "100.127.255.255", "shared address space (CGNAT)" },
	{ "100.128.0.0", NULL },
	{ "100.100.100.200", "cloud metadata" },
	/* 127/8 */
	{ "126.255.255.255", NULL },
	{ "127.0.0.0", "loopback" },
	{ "127.0.0.1", "loopback" },
	{ "127.255.255.255", "loopback" },
	{ "128.0.0.0", NULL },
	/* 169.254/16 and the metadata service */
	{ "169.253.255.255", NULL },
	{ "169.254.0.0", "link-local" },
	{ "169.254.169.254", "cloud metadata" },
	{ "169.254.255.255", "link-local" },
	{ "169.255.0.0", NULL },
	{ "168.63.129.16", "cloud metadata" },
	{ "168.63.129.17", NULL },
	/* 172.16/12 */
	{ "172.15.255.255", NULL },
	{ "172.16.0.0", "private" },
	{ "172.31.255.255", "private" },
	{ "172.32.0.0", NULL },
	/* 192.0.0/24, 192.0.2/24 */
	{ "191.255.255.255", NULL },
	{ "192.0.0.0", "IETF protocol assignments" },
	{ "192.0.0.255", "IETF protocol assignments" },
	{ "192.0.1.0", NULL },
	{ "192.0.2.0", "documentation" },
	{ "192.0.2.255", "documentation" },
	{ "192.0.3.0", NULL },
	{ "192.88.99.1", "6to4 relay anycast" },
	/* 192.168/16 */
	{ "192.167.255.255", NULL },
	{ "192.168.0.0", "private" },
	{ "192.168.255.255", "private" },
	{ "192.169.0.0", NULL },
	/* 198.18/15 */
	{ "198.17.255.255", NULL },
	{ "198.18.0.0", "benchmarking" },
	{ "198.19.255.255", "benchmarking" },
	{ "198.20.0.0", NULL },
	{ "198.51.100.0", "documentation" },
	{ "198.51.100.255", "documentation" },
	{ "198.51.101.0", NULL },
	{ "203.0.112.255", NULL },
	{ "203.0.113.0", "documentation" },
	{ "203.0.113.255", "documentation" },
	{ "203.0.114.0", NULL },
	/* 224/4, 240/4 */
	{ "223.255.255.255", NULL },
	{ "224.0.0.0", "multicast" },
	{ "239.255.255.255", "multicast" },
	{ "240.0.0.0", "reserved" },
	{ "255.255.255.255", "reserved" },
	/* IPv6 */
	{ "::", "unspecified" },
	{ "::1", "loopback" },
	{ "[::1]", "loopback" },
	{ "::2", "unspecified" },       /* IPv4-compatible 0.0.0.2 */
	{ "::127.0.0.1", "loopback" },  /* IPv4-compatible */
	{ "::8.8.8.8", NULL },
	{ "::ffff:127.0.0.1", "loopback" },
	{ "[::ffff:127.0.0.1]", "loopback" },
	{ "::ffff:7f00:1", "loopback" },
	{ "::ffff:169.254.169.254", "cloud metadata" },
	{ "::ffff:10.0.0.1", "private" },
	{ "::ffff:8.8.8.8", NULL },
	{ "64:ff9b::127.0.0.1", "loopback" },
	{ "64:ff9b::a9fe:a9fe", "cloud metadata" },
	{ "64:ff9b::8.8.8.8", NULL },
	{ "64:ff9b:1::1", "local-use NAT64" },
	{ "2002:7f00:1::", "loopback" },       /* 6to4 of 127.0.0.1 */
	{ "2002:a9fe:a9fe::1", "cloud metadata" },
	{ "2002:c0a8:101::1", "private" },
	{ "2002:808:808::1", NULL },
	{ "100::", "discard-only" },
	{ "100::ffff:ffff:ffff:ffff", "discard-only" },
	{ "100:0:0:1::", "reserved" },
	{ "2001::1", "Teredo" },
	{ "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "Teredo" },
	{ "2001:2::", "benchmarking" },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "IETF protocol assignments" },
	{ "2001:200::", NULL },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "2001:db8::", "documentation" },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "documentation" },
	{ "2001:db9::", NULL },
	{ "3fff::", "documentation" },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "documentation" },
	{ "3fff:1000::", NULL },
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved" },
	{ "2000::", NULL },
	{ "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL },
	{ "4000::", "reserved" },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved" },
	{ "fc00::", "unique local (private)" },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local (private)" },
	{ "fd00:ec2::254", "cloud metadata" },
	{ "fe80::", "link-local" },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local" },
	{ "fec0::", "site-local" },
	{ "ff00::", "multicast" },
	{ "ff02::1", "multicast" },
	/* not addresses */
	{ "", "not an IP address" },
	{ "localhost", "not an IP address" },
	{ "127.1", "not an IP address" },
	{ "[::1", "not an IP address" },
};

static void test_table(void **state)
{
	(void)state;
	struct netguard g;
	char why[160];
	assert_null(netguard_parse("", &g, why, sizeof(why)));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *w = netguard_refused_text(&g, rows[i].ip);
		if ((w == NULL) != (rows[i].why == NULL) ||
		    (w && strcmp(w, rows[i].why)))
			fail_msg("%s: got %s, want %s", rows[i].ip,
				 w ? w : "allowed",
				 rows[i].why ? rows[i].why : "allowed");
	}
	/* no guard: same rules */
	assert_string_equal(netguard_refused_text(NULL, "127.0.0.1"),
			    "loopback");
}

static void test_sockaddr(void **state)
{
	(void)state;
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct sockaddr un = { .sa_family = AF_UNIX };

	inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
	assert_string_equal(netguard_refused(NULL, (void *)&in),
			    "cloud metadata");
	inet_pton(AF_INET, "9.9.9.9", &in.sin_addr);
	assert_null(netguard_refused(NULL, (void *)&in));
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	assert_string_equal(netguard_refused(NULL, (void *)&in6), "loopback");
	assert_string_equal(netguard_refused(NULL, &un), "not an IP address");
	assert_string_equal(netguard_refused(NULL, NULL), "not an IP address");
}

static void test_allow(void **state)
{
	(void)state;
	struct netguard g;
	char why[160];

	assert_null(netguard_parse("127.0.0.1/32 10.1.0.0/16 fd00:1::/32", &g,
				   why, sizeof(why)));
	assert_null(netguard_refused_text(&g, "127.0.0.1"));
	assert_string_equal(netguard_refused_text(&g, "127.0.0.2"),
			    "loopback");
	/* mapped matches as IPv4; so do the other embedding forms */
	assert_null(netguard_refused_text(&g, "::ffff:127.0.0.1"));
	assert_null(netguard_refused_text(&g, "2002:7f00:1::"));
	assert_null(netguard_refused_text(&g, "10.1.255.255"));
	assert_string_equal(netguard_refused_text(&g, "10.2.0.0"), "private");
	assert_null(netguard_refused_text(&g, "fd00:1::5"));
	assert_string_equal(netguard_refused_text(&g, "fd00:2::5"),
			    "unique local (private)");
	assert_string_equal(netguard_refused_text(&g, "::1"), "loopback");
	/* bad lists are refused with a reason */
	assert_non_null(netguard_parse("10.0.0.0/33", NULL, why, sizeof(why)));
	assert_non_null(netguard_parse("nonsense", NULL, why, sizeof(why)));
}

struct url_row {
	const char *url;
	bool ok, forbidden;
};

static const struct url_row url_rows[] = {
	{ "http://example.com/a", true, false },
	{ "https://example.com:8443/a?b=c", true, false },
	{ "HTTP://example.com/", true, false },
	{ "http://8.8.8.8/", true, false },
	{ "ftp://example.com/", false, false },
	{ "file:///etc/passwd", false, false },
	{ "gopher://127.0.0.1/", false, false },
	{ "example.com", false, false },
	{ "http://", false, false },
	{ "http:///x", false, false },
	{ "https:///", false, false },
	{ "http://user:pw@example.com/", false, false },
	{ "http://127.0.0.1:8080/x", false, true },
	{ "http://169.254.169.254/latest/meta-data/", false, true },
	{ "http://[::1]/", false, true },
	{ "http://[::ffff:127.0.0.1]/", false, true },
	{ "http://[fe80::1]/", false, true },
	{ "http://10.0.0.1/", false, true },
	{ "http://0.0.0.0/", false, true },
};

static void test_url(void **state)
{
	(void)state;
	struct netguard g;
	char why[160];
	bool forbidden;

	assert_null(netguard_parse("", &g, why, sizeof(why)));
	for (size_t i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
		const char *w = netguard_url_check(&g, url_rows[i].url, why,
						   sizeof(why), &forbidden);
		if ((w == NULL) != url_rows[i].ok ||
		    forbidden != url_rows[i].forbidden)
			fail_msg("%s: got %s (forbidden %d)", url_rows[i].url,
				 w ? w : "ok", forbidden);
	}
	assert_non_null(netguard_url_check(&g, "http://127.0.0.1/", why,
					   sizeof(why), &forbidden));
	assert_string_equal(why, "refused address 127.0.0.1 (loopback)");
	assert_null(netguard_parse("127.0.0.1", &g, why, sizeof(why)));
	assert_null(netguard_url_check(&g, "http://127.0.0.1/", why,
				       sizeof(why), &forbidden));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
