/*
 * test_i18n.c — unit tests for src/core/i18n.c: catalog lookups (the
 * French catalog generated from po/fr.po), plural forms, and the choice
 * of a language from the cookie and Accept-Language.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/i18n.h"

static void test_lookup(void **state)
{
	const struct i18n_catalog *fr = i18n_find("fr");
	assert_non_null(fr);
	assert_null(i18n_find("en")); /* the source language */
	assert_null(i18n_find("de"));
	assert_null(i18n_find(NULL));
	assert_string_equal(i18n_gettext(fr, "Download"), "Télécharger");
	assert_string_equal(i18n_gettext(fr, "File not found"),
			    "Fichier introuvable");
	/* English and a missing message: the id itself */
	assert_string_equal(i18n_gettext(NULL, "Download"), "Download");
	assert_string_equal(i18n_gettext(fr, "no such message"),
			    "no such message");
	/* the table is sorted: every entry is found by its own id */
	for (size_t i = 0; i < fr->n; i++)
		assert_ptr_equal(i18n_gettext(fr, fr->msgs[i].id),
				 fr->msgs[i].str[0]);
	for (size_t i = 1; i < fr->n; i++)
		assert_true(strcmp(fr->msgs[i - 1].id, fr->msgs[i].id) < 0);
}

static void test_plural(void **state)
{
	const struct i18n_catalog *fr = i18n_find("fr");
	const char *one = "%zu file", *many = "%zu files";
	/* French: 0 and 1 are singular (n > 1) */
	assert_string_equal(i18n_ngettext(fr, one, many, 0), "%zu fichier");
	assert_string_equal(i18n_ngettext(fr, one, many, 1), "%zu fichier");
	assert_string_equal(i18n_ngettext(fr, one, many, 2), "%zu fichiers");
	/* English: 0 is plural (n != 1) */
	assert_string_equal(i18n_ngettext(NULL, one, many, 0), many);
	assert_string_equal(i18n_ngettext(NULL, one, many, 1), one);
	assert_string_equal(i18n_ngettext(NULL, one, many, 5), many);
	/* missing from the catalog: English rules on the English forms */
	assert_string_equal(i18n_ngettext(fr, "x", "xs", 0), "xs");
}

static void test_pick(void **state)
{
	static const struct {
		const char *cookie, *al, *want;
	} cases[] = {
		{ NULL, NULL, "en" },
		{ NULL, "", "en" },
		{ NULL, "fr", "fr" },
		{ NULL, "fr-CA", "fr" },
		{ NULL, "FR-ca", "fr" },
		{ NULL, "fr_FR", "fr" },
		{ NULL, "de", "en" },		      /* unknown: English */
		{ NULL, "de, fr;q=0.5", "fr" },	      /* the first we have */
		{ NULL, "en;q=0.4, fr;q=0.8", "fr" }, /* highest q */
		{ NULL, "fr;q=0.8, en", "en" },	      /* q=1 by default */
		{ NULL, "en-US,en;q=0.9,fr;q=0.8", "en" },
		{ NULL, "fr;q=0, en;q=0.1", "en" }, /* q=0 refuses */
		{ NULL, "fr;q=0", "en" },
		{ NULL, "fr;q=0.000", "en" },
		{ NULL, "fr;q=1.0", "fr" },
		{ NULL, "fr;q=2", "en" }, /* malformed weight */
		{ NULL, "fr;q=x", "en" },
		{ NULL, "  fr  ;  q=0.7 ,de", "fr" },
		{ NULL, "*", "en" },
		{ NULL, "french", "en" }, /* not a subtag "fr" */
		{ NULL, ",,,;;;q=,", "en" },
		{ "fr", "en", "fr" }, /* the cookie wins */
		{ "en", "fr", "en" },
		{ "de", "fr", "fr" },	 /* unknown cookie: ignored */
		{ "fr-CA", "en", "en" }, /* the cookie is exact */
		{ "", "fr", "fr" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = i18n_pick(cases[i].cookie, cases[i].al);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("cookie %s, Accept-Language '%s': %s, want %s",
				 cases[i].cookie ? cases[i].cookie : "(none)",
				 cases[i].al ? cases[i].al : "(none)", got,
				 cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_plural),
		cmocka_unit_test(test_pick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
