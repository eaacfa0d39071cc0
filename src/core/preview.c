/*
 * preview.c — a text file's first bytes as inert HTML (preview.h).
 */
#include "preview.h"

#include <stdint.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/pt.h"
#include "../util/utf8.h"
#include "../util/banned.h"

bool preview_mime_text(const char *mime)
{
	static const char *const types[] = {
		"application/json",	     "application/xml",
		"application/javascript",    "application/x-sh",
		"application/x-shellscript", "application/sql",
		"application/x-yaml",	     "application/yaml",
		"application/toml",	     "application/x-perl",
		"application/x-python",	     "application/x-php",
		"application/x-ruby",	     "application/x-tex",
		"application/x-subrip",	     "image/svg+xml",
	};
	if (!mime)
		return false;
	size_t n = strcspn(mime, ";"); /* "text/plain; charset=…" */
	while (n && mime[n - 1] == ' ')
		n--;
	if (n > 5 && strncmp(mime, "text/", 5) == 0)
		return true;
	for (size_t i = 0; i < PT_ARRAY_LEN(types); i++)
		if (strlen(types[i]) == n && strncmp(mime, types[i], n) == 0)
			return true;
	return false;
}

/* the UTF-8 of a code point below U+10000 */
static int add_cp(struct pt_buf *b, uint32_t cp)
{
	char u[3];
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return pt_buf_add(b, u, 2);
	}
	u[0] = (char)(0xe0 | cp >> 12);
	u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[2] = (char)(0x80 | (cp & 0x3f));
	return pt_buf_add(b, u, 3);
}

int preview_html(const char *p, size_t n, struct pt_buf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t end = n, start = out->n;
	uint32_t cp;

	/* a sequence cut by the end of the sample: drop it */
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = s[n - back];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		if (c >= 0xc0 && !utf8_decode(s + n - back, back, &cp))
			end = n - back;
		break;
	}
	for (size_t i = 0; i < end;) {
		size_t k = utf8_decode(s + i, end - i, &cp);
		int err = 0;
		if (!k) {
			out->n = start; /* not text: nothing */
			if (out->p)
				out->p[start] = '\0';
			return PT_EUNSUPPORTED;
		}
		switch (cp) {
		case '&':
			err = pt_buf_adds(out, "&amp;");
			break;
		case '<':
			err = pt_buf_adds(out, "&lt;");
			break;
		case '>':
			err = pt_buf_adds(out, "&gt;");
			break;
		case '"':
			err = pt_buf_adds(out, "&quot;");
			break;
		case '\'':
			err = pt_buf_adds(out, "&#39;");
			break;
		case '\t':
		case '\n':
			err = pt_buf_add(out, s + i, 1);
			break;
		case '\r':
			if (i + 1 < end && s[i + 1] == '\n')
				break; /* CRLF: the LF does */
			err = add_cp(out, 0x240d);
			break;
		case 0x7f:
			err = add_cp(out, 0x2421);
			break;
		default:
			if (cp < 0x20)
				err = add_cp(out, 0x2400 + cp);
			else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x200e ||
				 cp == 0x200f ||
				 (cp >= 0x202a && cp <= 0x202e) ||
				 (cp >= 0x2066 && cp <= 0x2069) ||
				 cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
				err = add_cp(out, 0xfffd);
			else
				err = pt_buf_add(out, s + i, k);
		}
		if (err)
			return err;
		i += k;
	}
	return 0;
}
