/*
 * i18n.h — the pages' languages: message catalogs and the choice of a
 * language for a request.
 *
 * The source language is English: a message's id is its English text,
 * and English has no catalog.  Every other language is a catalog
 * generated at build time from po/LANG.po by scripts/i18n.py (the table
 * i18n_catalogs[], sorted by msgid in byte order, looked up by binary
 * search).  Lookups never fail: a message missing from a catalog comes
 * back as its English id, so a page is never empty, only partly
 * untranslated (scripts/i18n.py check and test_81 keep that from
 * shipping).  Everything here is pure and allocation-free.  The
 * format_arg attributes let the compiler check printf arguments against
 * the English text; scripts/i18n.py refuses a translation whose
 * conversions differ from it.
 */
#ifndef PT_I18N_H
#define PT_I18N_H

#include <stddef.h>
#include <stdint.h>

enum i18n_plural {
	I18N_PLURAL_NOT_ONE = 0, /* English, German…: n != 1 */
	I18N_PLURAL_GT_ONE = 1,	 /* French: n > 1 (0 and 1 are singular) */
};

struct i18n_msg {
	const char *id;	    /* the English text */
	const char *plural; /* its English plural, or NULL */
	const char *str[2]; /* singular and plural translations */
};

struct i18n_catalog {
	const char *lang; /* "fr" */
	const struct i18n_msg *msgs;
	size_t n;
	int plural; /* enum i18n_plural */
};

/* Generated; ends with lang == NULL. */
extern const struct i18n_catalog i18n_catalogs[];

/* The catalog of lang ("fr"), or NULL for English or an unknown one. */
const struct i18n_catalog *i18n_find(const char *lang);

/* id translated by c (NULL: English); id itself when c lacks it. */
const char *i18n_gettext(const struct i18n_catalog *c, const char *id)
	__attribute__((format_arg(2)));

/* The singular or plural form for n, translated by c as above. */
const char *i18n_ngettext(const struct i18n_catalog *c, const char *id,
			  const char *plural, uint64_t n)
	__attribute__((format_arg(2))) __attribute__((format_arg(3)));

/* The language to serve: the cookie's value when it names a language we
 * have ("en" or a catalog), else the best of Accept-Language (highest q;
 * among equals the first; "fr-CA" counts as "fr"; q=0 refuses), else
 * "en".  Both may be NULL.  Returns a static string. */
const char *i18n_pick(const char *cookie, const char *accept_language);

#endif
