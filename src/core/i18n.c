/*
 * i18n.c — catalog lookups and Accept-Language (see i18n.h).
 */
#include "i18n.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "../util/banned.h"

const struct i18n_catalog *i18n_find(const char *lang)
{
	for (const struct i18n_catalog *c = i18n_catalogs; lang && c->lang; c++)
		if (strcmp(c->lang, lang) == 0)
			return c;
	return NULL;
}

static const struct i18n_msg *lookup(const struct i18n_catalog *c,
				     const char *id)
{
	size_t lo = 0, hi = c ? c->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(id, c->msgs[mid].id);
		if (cmp == 0)
			return &c->msgs[mid];
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *i18n_gettext(const struct i18n_catalog *c, const char *id)
{
	const struct i18n_msg *m = lookup(c, id);
	return m ? m->str[0] : id;
}

const char *i18n_ngettext(const struct i18n_catalog *c, const char *id,
			  const char *plural, uint64_t n)
{
	const struct i18n_msg *m = lookup(c, id);
	if (!m)
		return n == 1 ? id : plural;
	bool many = c->plural == I18N_PLURAL_GT_ONE ? n > 1 : n != 1;
	return m->str[many];
}

/* "en", or the catalog's own name, for a language tag's primary subtag
 * (s, n bytes: "fr" of "fr-CA"); NULL when we do not have it. */
static const char *have(const char *s, size_t n)
{
	size_t p = 0;
	while (p < n && s[p] != '-' && s[p] != '_')
		p++;
	if (p == 2 && strncasecmp(s, "en", 2) == 0)
		return "en";
	for (const struct i18n_catalog *c = i18n_catalogs; c->lang; c++)
		if (strlen(c->lang) == p && strncasecmp(c->lang, s, p) == 0)
			return c->lang;
	return NULL;
}

/* q of ";q=0.8" parameters (s, n bytes), in thousandths; 1000 without
 * one, 0 for anything malformed (a bad weight refuses, as RFC 9110 says
 * nothing better to do with it). */
static int qvalue(const char *s, size_t n)
{
	int q = 1000;
	size_t i = 0;
	while (i < n) {
		while (i < n && (s[i] == ';' || s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i + 2 <= n && (s[i] == 'q' || s[i] == 'Q') &&
		    s[i + 1] == '=') {
			i += 2;
			if (i < n && s[i] == '1') {
				q = 1000;
				i++;
			} else if (i < n && s[i] == '0') {
				q = 0;
				i++;
			} else {
				return 0;
			}
			if (i < n && s[i] == '.') {
				int scale = 100;
				i++;
				for (; i < n && s[i] >= '0' && s[i] <= '9' &&
				       scale;
				     i++, scale /= 10)
					q += (s[i] - '0') * scale;
			}
			if (q > 1000)
				return 0;
		}
		while (i < n && s[i] != ';')
			i++;
	}
	return q;
}

const char *i18n_pick(const char *cookie, const char *accept_language)
{
	const char *best = NULL;
	int bestq = 0;

	if (cookie) {
		const char *l = have(cookie, strlen(cookie));
		if (l && strlen(cookie) == strlen(l))
			return l;
	}
	for (const char *p = accept_language; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		size_t tag = 0;
		while (tag < n && p[tag] != ';' && p[tag] != ' ' &&
		       p[tag] != '\t')
			tag++;
		const char *l = tag ? have(p, tag) : NULL;
		int q = l ? qvalue(p + tag, n - tag) : 0;
		if (l && q > bestq) {
			best = l;
			bestq = q;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return best ? best : "en";
}
