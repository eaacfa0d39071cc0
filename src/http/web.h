/*
 * web.h — the files of web/ (HTML templates, CSS, JS), embedded into the
 * binary at build time by scripts/embed.c.
 */
#ifndef PT_WEB_H
#define PT_WEB_H

#include <stddef.h>

struct web_asset {
	const char *name;          /* base name, e.g. "style.css" */
	const unsigned char *data; /* NUL-terminated */
	size_t len;
};

extern const struct web_asset web_assets[]; /* ends with name == NULL */

/* The asset of that name, or NULL. */
const struct web_asset *web_asset_find(const char *name);

#endif
