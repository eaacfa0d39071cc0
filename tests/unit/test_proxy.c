/*
 * test_proxy.c — trusted proxies and X-Forwarded-For against tables of
 * edge cases: list syntax and prefixes, IPv4-mapped addresses, spoofed
 * entries left of the last proxy, chains of proxies, several header lines
 * (joined by the server), ports and brackets, garbage that stops the walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/proxy.h"
#include "util/banned.h"

struct parse_row {
	const char *name;
	const char *text;
	bool ok;
	size_t n;
};

static const struct parse_row parse_rows[] = {
	{ "empty", "", true, 0 },
	{ "spaces only", "   ", true, 0 },
	{ "one IPv4", "127.0.0.1", true, 1 },
	{ "IPv4 network", "10.0.0.0/8", true, 1 },
	{ "list with commas and spaces", "10.0.0.0/8, 192.168.1.1 ::1", true,
	  3 },
	{ "IPv6 network", "fd00::/8", true, 1 },
	{ "/0 trusts everything", "0.0.0.0/0", true, 1 },
	{ "/32", "10.1.2.3/32", true, 1 },
	{ "/128", "::1/128", true, 1 },
	{ "IPv4 /33", "10.0.0.0/33", false, 0 },
	{ "IPv6 /129", "::/129", false, 0 },
	{ "empty prefix", "10.0.0.0/", false, 0 },
	{ "prefix junk", "10.0.0.0/8x", false, 0 },
	{ "negative prefix", "10.0.0.0/-1", false, 0 },
	{ "host name", "lb.internal", false, 0 },
	{ "port", "10.0.0.1:80", false, 0 },
	{ "brackets", "[::1]", false, 0 },
	{ "bad second", "10.0.0.1 nope", false, 0 },
	{ "short IPv4", "10.0.0", false, 0 },
	{ "lone slash", "/8", false, 0 },
};

static void run_parse(void **state)
{
	const struct parse_row *r = *state;
	struct proxy_list l;
	char why[160];
	const char *err = proxy_list_parse(r->text, &l, why, sizeof(why));

	if (r->ok) {
		assert_null(err);
		assert_int_equal(l.n, r->n);
	} else {
		assert_non_null(err);
		assert_true(strlen(err) > 0);
	}
}

static void test_parse_too_many(void **state)
{
	char text[PROXY_MAX_NETS * 16 + 32] = "";
	char why[160];
	size_t len = 0;

	(void)state;
	for (int i = 0; i < PROXY_MAX_NETS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"10.0.%d.1 ", i);
	assert_null(proxy_list_parse(text, NULL, why, sizeof(why)));
	snprintf(text + len, sizeof(text) - len, "10.1.0.1");
	assert_non_null(proxy_list_parse(text, NULL, why, sizeof(why)));
}

struct match_row {
	const char *name;
	const char *list, *ip;
	bool want;
};

static const struct match_row match_rows[] = {
	{ "exact IPv4", "127.0.0.1", "127.0.0.1", true },
	{ "other IPv4", "127.0.0.1", "127.0.0.2", false },
	{ "in /8", "10.0.0.0/8", "10.255.1.2", true },
	{ "outside /8", "10.0.0.0/8", "11.0.0.1", false },
	{ "host bits of the network ignored", "10.1.2.3/8", "10.9.9.9", true },
	{ "odd prefix in", "192.168.0.0/23", "192.168.1.200", true },
	{ "odd prefix out", "192.168.0.0/23", "192.168.2.1", false },
	{ "mapped IPv4 matches IPv4", "127.0.0.1", "::ffff:127.0.0.1", true },
	{ "IPv6 exact", "::1", "::1", true },
	{ "IPv6 network", "fd00::/8", "fd12:3456::1", true },
	{ "IPv6 not IPv4", "::1", "127.0.0.1", false },
	{ "/0", "0.0.0.0/0", "8.8.8.8", true },
	{ "/0 is IPv4 only", "0.0.0.0/0", "2001:db8::1", false },
	{ "empty list", "", "127.0.0.1", false },
	{ "garbage address", "127.0.0.1", "nope", false },
};

static void run_match(void **state)
{
	const struct match_row *r = *state;
	struct proxy_list l;
	char why[160];

	assert_null(proxy_list_parse(r->list, &l, why, sizeof(why)));
	assert_int_equal(proxy_list_match(&l, r->ip), r->want);
}

struct client_row {
	const char *name;
	const char *list, *peer, *xff, *want;
};

static const struct client_row client_rows[] = {
	{ "no proxies: the peer", "", "203.0.113.7", "198.51.100.1",
	  "203.0.113.7" },
	{ "untrusted peer's header ignored", "127.0.0.1", "203.0.113.7",
	  "198.51.100.1", "203.0.113.7" },
	{ "trusted peer, no header", "127.0.0.1", "127.0.0.1", NULL,
	  "127.0.0.1" },
	{ "trusted peer, one entry", "127.0.0.1", "127.0.0.1",
	  "198.51.100.1", "198.51.100.1" },
	{ "client's claim left of the proxy's", "127.0.0.1", "127.0.0.1",
	  "6.6.6.6, 198.51.100.1", "198.51.100.1" },
	{ "chain of trusted proxies", "127.0.0.1 10.0.0.0/8", "127.0.0.1",
	  "6.6.6.6, 198.51.100.1, 10.0.0.5, 10.0.0.9", "198.51.100.1" },
	{ "everything trusted: leftmost", "0.0.0.0/0", "127.0.0.1",
	  "10.0.0.5, 10.0.0.9", "10.0.0.5" },
	{ "garbage stops at the last proxy", "127.0.0.1 10.0.0.0/8",
	  "127.0.0.1", "198.51.100.1, unknown, 10.0.0.5", "10.0.0.5" },
	{ "garbage right at the end", "127.0.0.1", "127.0.0.1",
	  "198.51.100.1, junk", "127.0.0.1" },
	{ "empty header", "127.0.0.1", "127.0.0.1", "", "127.0.0.1" },
	{ "empty entry", "127.0.0.1", "127.0.0.1", "198.51.100.1, ",
	  "127.0.0.1" },
	{ "spaces and tabs", "127.0.0.1", "127.0.0.1", " \t198.51.100.1\t ",
	  "198.51.100.1" },
	{ "IPv4 with port", "127.0.0.1", "127.0.0.1", "198.51.100.1:4711",
	  "198.51.100.1" },
	{ "IPv6", "::1", "::1", "2001:db8::7", "2001:db8::7" },
	{ "IPv6 bracketed with port", "::1", "::1", "[2001:db8::7]:4711",
	  "2001:db8::7" },
	{ "IPv6 canonical form", "::1", "::1", "2001:DB8:0:0::7",
	  "2001:db8::7" },
	{ "mapped peer", "127.0.0.1", "::ffff:127.0.0.1", "198.51.100.1",
	  "198.51.100.1" },
	{ "mapped entry as IPv4", "127.0.0.1", "127.0.0.1",
	  "::ffff:198.51.100.1", "198.51.100.1" },
	{ "bracketed IPv4 refused", "127.0.0.1", "127.0.0.1",
	  "[198.51.100.1]", "127.0.0.1" },
	{ "overlong entry", "127.0.0.1", "127.0.0.1",
	  "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb",
	  "127.0.0.1" },
};

static void run_client(void **state)
{
	const struct client_row *r = *state;
	struct proxy_list l;
	char why[160], out[PROXY_ADDR_MAX];

	assert_null(proxy_list_parse(r->list, &l, why, sizeof(why)));
	proxy_client_address(&l, r->peer, r->xff, out, sizeof(out));
	assert_string_equal(out, r->want);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_parse_too_many),
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	size_t np = sizeof(parse_rows) / sizeof(parse_rows[0]);
	size_t nm = sizeof(match_rows) / sizeof(match_rows[0]);
	size_t nc = sizeof(client_rows) / sizeof(client_rows[0]);
	struct CMUnitTest *t = calloc(nf + np + nm + nc, sizeof(*t));
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < nf; i++)
		t[k++] = fixed[i];
	for (size_t i = 0; i < np; i++)
		t[k++] = (struct CMUnitTest){ .name = parse_rows[i].name,
					      .test_func = run_parse,
					      .initial_state =
						      (void *)&parse_rows[i] };
	for (size_t i = 0; i < nm; i++)
		t[k++] = (struct CMUnitTest){ .name = match_rows[i].name,
					      .test_func = run_match,
					      .initial_state =
						      (void *)&match_rows[i] };
	for (size_t i = 0; i < nc; i++)
		t[k++] = (struct CMUnitTest){ .name = client_rows[i].name,
					      .test_func = run_client,
					      .initial_state =
						      (void *)&client_rows[i] };
	rc = _cmocka_run_group_tests("proxy", t, k, NULL, NULL);
	free(t);
	return rc;
}
