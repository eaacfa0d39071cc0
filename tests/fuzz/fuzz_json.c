/*
 * fuzz_json.c — libFuzzer target for JSON request bodies: the path every
 * JSON handler's body takes (api_json_body in api/accounts.c: the UTF-8
 * check, then api_json_object) and the checks the account handlers put
 * the fields through (account_check_name, _password, _label).  The input
 * is the body.  Checks:
 *   - a body that is not UTF-8 never reaches the parser (the 400 names
 *     the byte); an object comes back only from an object, and written
 *     out and read again it is the same object (json_equal);
 *   - the string fields a handler reads ("name", "password", "label",
 *     "code", "new", "reason", and each string of "ids") are NUL-free
 *     UTF-8, and each rule accepts exactly what its header says: a name
 *     is 3..32 of [A-Za-z0-9_.-], a password 8..1024 bytes, a label at
 *     most 100 bytes of text without control characters; a refusal
 *     always says why.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/pt.h"
#include "util/utf8.h"
#include "util/banned.h"

static void check_text(const char *s, size_t n)
{
	PT_ASSERT(strlen(s) == n); /* "\u0000" is refused by the parser */
	PT_ASSERT(utf8_check(s, n, 0, NULL) == NULL);
}

static void check_rules(const char *s)
{
	size_t n = strlen(s);
	const char *why = NULL;
	bool ok = n >= 3 && n <= 32;
	for (size_t i = 0; i < n && ok; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		     (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
		     s[i] == '.';
	int rc = account_check_name(s, &why);
	PT_ASSERT((rc == 0) == ok);
	PT_ASSERT(rc == 0 || (rc == PT_EBADREQ && why && *why));

	why = NULL;
	rc = account_check_password(s, &why);
	PT_ASSERT((rc == 0) == (n >= 8 && n <= 1024));
	PT_ASSERT(rc == 0 || (rc == PT_EBADREQ && why && *why));

	why = NULL;
	rc = account_check_label(s, &why);
	PT_ASSERT((rc == 0) ==
		  (n <= TOKEN_LABEL_MAX && !utf8_check(s, n, UTF8_NAME, NULL)));
	PT_ASSERT(rc == 0 || (rc == PT_EBADREQ && why && *why));
}

static void field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return;
	check_text(json_string_value(v), json_string_length(v));
	check_rules(json_string_value(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	/* json_body_end: not UTF-8 is a 400 of its own, before parsing */
	size_t at = 0;
	if (utf8_check(p, size, 0, &at)) {
		PT_ASSERT(at <= size);
		return 0;
	}
	json_t *o = api_json_object(p, size);
	json_t *any = size ? json_loadb(p, size, 0, NULL) : NULL;
	PT_ASSERT((o != NULL) == (any && json_is_object(any)));
	json_decref(any);
	if (!o)
		return 0;

	/* the same object after a trip through text */
	char *text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	PT_ASSERT(text);
	json_t *again = api_json_object(text, strlen(text));
	PT_ASSERT(again && json_equal(o, again));
	json_decref(again);
	free(text);

	static const char *const keys[] = { "name", "password", "label",
					    "code", "new", "reason",
					    "reference", "text" };
	for (size_t i = 0; i < PT_ARRAY_LEN(keys); i++)
		field(o, keys[i]);
	json_t *ids = json_object_get(o, "ids");
	if (json_is_array(ids))
		for (size_t i = 0; i < json_array_size(ids) && i < 64; i++) {
			json_t *v = json_array_get(ids, i);
			if (json_is_string(v))
				check_text(json_string_value(v),
					   json_string_length(v));
		}
	json_decref(o);
	return 0;
}
