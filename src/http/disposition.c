/*
 * disposition.c — builds Content-Disposition values that every browser
 * reads the same way, and cleans the file names clients give us before we
 * store or echo them.  A name reaches a browser twice: as an ASCII
 * quoted-string that old agents understand (filename, RFC 6266 §4.3) and as
 * exact UTF-8 in the RFC 8187 encoding (filename*), which modern agents
 * prefer.  Both are produced from a name that disp_build sanitises again
 * itself, so no caller can forget it and put a CR, a quote or a path in a
 * response header.  disp_type_is_active is the policy that keeps
 * script-capable uploads from rendering on our origin.
 */
#include "disposition.h"

#include <stdint.h>
#include <string.h>

#include "../util/utf8.h"
#include "../util/banned.h"

/* Longest stored name, in bytes (the common file-system limit). */
#define NAME_MAX_BYTES 255

/*
 * Code points that never belong in a file name: C0 and C1 controls, DEL,
 * the line and paragraph separators, and the bidirectional overrides that
 * make "gpj.exe" display as "exe.jpg" (U+202E and friends).
 */
static bool cp_dropped(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x200e ||
	       c == 0x200f || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

size_t disp_sanitize_name(const char *name, size_t n, char *out,
			  size_t outsz)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t cap, len = 0, i;

	if (outsz == 0)
		return 0;
	cap = outsz - 1 < NAME_MAX_BYTES ? outsz - 1 : NAME_MAX_BYTES;
	if (!name)
		n = 0;

	/* keep the last path component, whichever separator was used */
	for (i = n; i > 0; i--)
		if (s[i - 1] == '/' || s[i - 1] == '\\')
			break;
	s += i;
	n -= i;

	for (i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);

		if (l == 0) {
			i++; /* drop one byte and resynchronise */
			continue;
		}
		if (cp_dropped(cp) || (len == 0 && (cp == ' ' || cp == '.'))) {
			i += l;
			continue;
		}
		if (len + l > cap)
			break; /* cut before a whole character, never inside */
		memcpy(out + len, s + i, l);
		len += l;
		i += l;
	}
	while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == '.'))
		len--;
	out[len] = '\0';
	if (len == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		static const char def[] = "file";
		len = sizeof(def) - 1 < cap ? sizeof(def) - 1 : cap;
		memcpy(out, def, len);
		out[len] = '\0';
	}
	return len;
}

/*
 * ASCII stand-ins for the non-ASCII characters most often found in names
 * (RFC 6266 App. D suggests transliteration for the filename fallback);
 * everything else becomes '_'.  Indexed from U+00C0.
 */
static const char *const latin1[64] = {
	"A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E",
	"I", "I", "I", "I", "D", "N", "O", "O", "O", "O", "O", "x",
	"O", "U", "U", "U", "U", "Y", "TH", "ss", "a", "a", "a", "a",
	"a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", "_", "o", "u", "u", "u",
	"u", "y", "th", "y",
};

static const char *translit(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xff)
		return latin1[c - 0xc0];
	switch (c) {
	case 0xa0: /* no-break space */
		return " ";
	case 0x152:
		return "OE";
	case 0x153:
		return "oe";
	case 0x2013: /* en and em dash */
	case 0x2014:
		return "-";
	case 0x2018: /* curly quotes; '"' itself is not allowed */
	case 0x2019:
	case 0x201c:
	case 0x201d:
		return "'";
	case 0x20ac:
		return "EUR";
	}
	return "_";
}

static bool is_hex(char c)
{
	char l = (char)(c | 0x20);

	return (c >= '0' && c <= '9') || (l >= 'a' && l <= 'f');
}

/*
 * The ASCII fallback of a sanitised (valid UTF-8, control-free) name:
 * printable ASCII only, no '"' or '\' (which agents unescape differently,
 * RFC 6266 App. D) and no "%XX" (which some agents percent-decode).  Each
 * stand-in is no longer than the UTF-8 it replaces, so the fallback is
 * never longer than the name.
 */
static size_t ascii_fallback(const char *name, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = 0, i = 0;

	while (i < n) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);

		if (l == 0)
			l = 1, cp = 0xfffd; /* cannot happen after sanitising */
		if (cp == '"')
			out[len++] = '\'';
		else if (cp == '\\' || cp < 0x20 || cp == 0x7f)
			out[len++] = '_';
		else if (cp < 0x80)
			out[len++] = (char)cp;
		else {
			const char *t = translit(cp);
			size_t tl = strlen(t);
			memcpy(out + len, t, tl);
			len += tl;
		}
		i += l;
	}
	for (i = 0; i + 2 < len; i++)
		if (out[i] == '%' && is_hex(out[i + 1]) && is_hex(out[i + 2]))
			out[i] = '_';
	out[len] = '\0';
	return len;
}

/* RFC 8187 §3.2.1: attr-char = ALPHA / DIGIT / "!" / "#" / "$" / "&" /
 * "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"; all else is %XX. */
static bool is_attr_char(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

/*
 *   attachment; filename="EUR rates"; filename*=UTF-8''%E2%82%AC%20rates
 *   ^type       ^ASCII fallback, first  ^exact name, only when different
 */
int disp_build(struct pt_buf *out, const char *name, bool attachment)
{
	static const char hex[] = "0123456789ABCDEF";
	char clean[NAME_MAX_BYTES + 1], fb[NAME_MAX_BYTES + 1];
	/* type + fallback + 3 bytes per name byte + punctuation */
	char v[16 + 16 + NAME_MAX_BYTES + 24 + 3 * NAME_MAX_BYTES];
	size_t cn, fn, n = 0;

	cn = disp_sanitize_name(name, name ? strlen(name) : 0, clean,
				sizeof(clean));
	fn = ascii_fallback(clean, cn, fb);

#define V_ADD(s, len)                                                   \
	do {                                                            \
		memcpy(v + n, (s), (len));                              \
		n += (len);                                             \
	} while (0)
	if (attachment)
		V_ADD("attachment", 10);
	else
		V_ADD("inline", 6);
	V_ADD("; filename=\"", 12);
	V_ADD(fb, fn);
	V_ADD("\"", 1);
	if (fn != cn || memcmp(fb, clean, cn) != 0) {
		V_ADD("; filename*=UTF-8''", 19);
		for (size_t i = 0; i < cn; i++) {
			unsigned char c = (unsigned char)clean[i];
			if (is_attr_char(c)) {
				v[n++] = (char)c;
			} else {
				v[n++] = '%';
				v[n++] = hex[c >> 4];
				v[n++] = hex[c & 15];
			}
		}
	}
#undef V_ADD
	/* one append, so a too-small buffer is left as it was */
	return pt_buf_add(out, v, n);
}

/*
 * Types a browser would run script in, or render as a document that can
 * (XML may carry XSLT, SVG and XHTML carry script).  Serving them inline
 * from our origin would let an upload act as our site (D6).
 */
static const char *const active_types[] = {
	"text/html",
	"text/xml",
	"text/xsl",
	"text/javascript",
	"text/ecmascript",
	"text/jscript",
	"text/livescript",
	"text/x-javascript",
	"text/x-ecmascript",
	"application/xml",
	"application/javascript",
	"application/ecmascript",
	"application/x-javascript",
	"application/x-ecmascript",
	"application/x-shockwave-flash",
	"multipart/x-mixed-replace",
};

bool disp_type_is_active(const char *mime)
{
	char t[128];
	size_t n = 0;
	const char *p, *slash;

	/* unknown or unparseable is treated as dangerous: fail safe */
	if (!mime)
		return true;
	p = mime;
	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p && *p != ';'; p++) {
		if (n + 1 >= sizeof(t))
			return true;
		t[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
	}
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	t[n] = '\0';

	slash = strchr(t, '/');
	if (!slash || slash == t || slash[1] == '\0')
		return true;
	for (size_t i = 0; i < PT_ARRAY_LEN(active_types); i++)
		if (strcmp(t, active_types[i]) == 0)
			return true;
	/* any XML-based type: image/svg+xml, application/xhtml+xml, ... */
	return n >= 4 && strcmp(t + n - 4, "+xml") == 0;
}
