/*
 * media.c — media info records, their summary and the viewing quota's
 * arithmetic (media.h).  Pure; the probe is in mediaprobe.c.
 */
#include "media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

static const char *const kinds[] = { "none", "video", "audio", "image" };

const char *media_kind_name(enum media_kind k)
{
	return (unsigned)k < PT_ARRAY_LEN(kinds) ? kinds[k] : "none";
}

int media_kind_parse(const char *s)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(kinds); i++)
		if (strcmp(s, kinds[i]) == 0)
			return (int)i;
	return -1;
}

const char *media_state_name(enum media_state s)
{
	switch (s) {
	case MEDIA_DONE:
		return "done";
	case MEDIA_FAILED:
		return "failed";
	case MEDIA_SKIPPED:
		return "skipped";
	default:
		return "pending";
	}
}

bool media_mime_probable(const char *mime)
{
	if (!mime)
		return false;
	return strncmp(mime, "video/", 6) == 0 ||
	       strncmp(mime, "audio/", 6) == 0 ||
	       strncmp(mime, "image/", 6) == 0 ||
	       strcmp(mime, "application/ogg") == 0 ||
	       strcmp(mime, "application/octet-stream") == 0;
}

int media_info_format(const struct media_info *m, char *buf, size_t n)
{
	int k = snprintf(buf, n,
			 "kind=%s\ncontainer=%s\nvcodec=%s\nacodec=%s\n"
			 "duration_ms=%lld\nwidth=%u\nheight=%u\nbitrate=%lld\n",
			 media_kind_name(m->kind), m->container, m->vcodec,
			 m->acodec, (long long)m->duration_ms, m->width,
			 m->height, (long long)m->bitrate);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* a name from libavformat: short, [a-z0-9_,.-] */
static bool name_ok(const char *v, size_t n)
{
	if (n >= MEDIA_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ',' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool num_ok(const char *v, size_t n, int64_t max, int64_t *out)
{
	int64_t x = 0;
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

int media_info_parse(const char *buf, size_t n, struct media_info *m)
{
	memset(m, 0, sizeof(*m));
	bool have_kind = false;
	size_t i = 0;
	while (i < n) {
		const char *line = buf + i;
		const char *nl = memchr(line, '\n', n - i);
		if (!nl)
			return PT_EBADREQ; /* every line ends */
		size_t len = (size_t)(nl - line);
		i += len + 1;
		const char *eq = memchr(line, '=', len);
		if (!eq)
			return PT_EBADREQ;
		size_t kn = (size_t)(eq - line);
		const char *v = eq + 1;
		size_t vn = len - kn - 1;
		int64_t x;
#define KEY(s) (kn == sizeof(s) - 1 && memcmp(line, s, kn) == 0)
		if (KEY("kind")) {
			char tmp[16];
			if (vn >= sizeof(tmp))
				return PT_EBADREQ;
			memcpy(tmp, v, vn);
			tmp[vn] = '\0';
			int k = media_kind_parse(tmp);
			if (k < 0)
				return PT_EBADREQ;
			m->kind = (enum media_kind)k;
			have_kind = true;
		} else if (KEY("container") || KEY("vcodec") || KEY("acodec")) {
			char *dst = KEY("container") ? m->container
				    : KEY("vcodec")  ? m->vcodec
						     : m->acodec;
			if (!name_ok(v, vn))
				return PT_EBADREQ;
			memcpy(dst, v, vn);
			dst[vn] = '\0';
		} else if (KEY("duration_ms")) {
			if (!num_ok(v, vn, MEDIA_DURATION_MAX_MS, &x))
				return PT_EBADREQ;
			m->duration_ms = x;
		} else if (KEY("width") || KEY("height")) {
			if (!num_ok(v, vn, MEDIA_DIM_MAX, &x))
				return PT_EBADREQ;
			*(KEY("width") ? &m->width : &m->height) = (uint32_t)x;
		} else if (KEY("bitrate")) {
			if (!num_ok(v, vn, MEDIA_BITRATE_MAX, &x))
				return PT_EBADREQ;
			m->bitrate = x;
		} else {
			return PT_EBADREQ;
		}
#undef KEY
	}
	return have_kind ? 0 : PT_EBADREQ;
}

static const struct {
	const char *name, *display;
} codecs[] = {
	{ "h264", "H.264" },	{ "hevc", "H.265" },	{ "vp8", "VP8" },
	{ "vp9", "VP9" },	{ "av1", "AV1" },	{ "mpeg4", "MPEG-4" },
	{ "theora", "Theora" }, { "aac", "AAC" },	{ "mp3", "MP3" },
	{ "opus", "Opus" },	{ "vorbis", "Vorbis" }, { "flac", "FLAC" },
	{ "ac3", "AC-3" },	{ "png", "PNG" },	{ "mjpeg", "JPEG" },
	{ "gif", "GIF" },	{ "webp", "WebP" },	{ "pcm_s16le", "PCM" },
};

const char *media_codec_display(const char *name)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(codecs); i++)
		if (strcmp(name, codecs[i].name) == 0)
			return codecs[i].display;
	return name;
}

void media_duration_text(int64_t ms, char *buf, size_t n)
{
	int64_t s = ms / 1000;
	if (s >= 3600)
		snprintf(buf, n, "%lld:%02lld:%02lld", (long long)(s / 3600),
			 (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%lld:%02lld", (long long)(s / 60),
			 (long long)(s % 60));
}

static void append(char *buf, size_t n, size_t *at, const char *s)
{
	int k = snprintf(buf + *at, n - *at, "%s%s", *at ? " \xc2\xb7 " : "",
			 s);
	if (k > 0)
		*at = *at + (size_t)k < n ? *at + (size_t)k : n - 1;
}

void media_summary(const struct media_info *m, char *buf, size_t n)
{
	static const char *const title[] = { "File", "Video", "Audio",
					     "Image" };
	size_t at = 0;
	char part[128];
	if (!n)
		return;
	buf[0] = '\0';
	append(buf, n, &at, title[(unsigned)m->kind < 4 ? m->kind : 0]);
	if (m->width && m->height) {
		snprintf(part, sizeof(part), "%u\xc3\x97%u", m->width,
			 m->height);
		append(buf, n, &at, part);
	}
	if (m->duration_ms && m->kind != MEDIA_IMAGE) {
		media_duration_text(m->duration_ms, part, sizeof(part));
		append(buf, n, &at, part);
	}
	const char *v = *m->vcodec ? media_codec_display(m->vcodec) : "";
	const char *a = *m->acodec ? media_codec_display(m->acodec) : "";
	if (*v || *a) {
		snprintf(part, sizeof(part), "%s%s%s", v, *v && *a ? "/" : "",
			 a);
		append(buf, n, &at, part);
	}
}

int64_t media_bitrate_of(const struct media_info *m, uint64_t size)
{
	if (m && m->bitrate > 0)
		return m->bitrate;
	if (m && m->duration_ms > 0 && size > 0) {
		/* size × 8000 ÷ ms, without overflow for sizes below 2^60 */
		uint64_t b = size / (uint64_t)m->duration_ms * 8000 +
			     size % (uint64_t)m->duration_ms * 8000 /
				     (uint64_t)m->duration_ms;
		if (b > 0)
			return b > (uint64_t)MEDIA_BITRATE_MAX
				       ? MEDIA_BITRATE_MAX
				       : (int64_t)b;
	}
	return MEDIA_BITRATE_FALLBACK;
}

int64_t media_ms_of_bytes(uint64_t bytes, int64_t bitrate)
{
	if (bitrate <= 0)
		bitrate = MEDIA_BITRATE_FALLBACK;
	/* bytes × 8000 ÷ bitrate, saturated */
	uint64_t br = (uint64_t)bitrate;
	if (bytes > UINT64_MAX / 8000)
		return INT64_MAX;
	uint64_t ms = bytes * 8000 / br;
	return ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ms;
}

bool media_quota_allows(struct media_quota *q, int64_t allowance_ms,
			int64_t wait_s, int64_t now, int64_t *retry_after)
{
	*retry_after = 0;
	if (allowance_ms <= 0)
		return true;
	if (q->start && !q->blocked_until &&
	    now >= q->start + allowance_ms / 1000 + wait_s)
		memset(q, 0, sizeof(*q));
	if (q->blocked_until) {
		if (now < q->blocked_until) {
			*retry_after = q->blocked_until - now;
			return false;
		}
		memset(q, 0, sizeof(*q)); /* the wait is over: a new window */
	}
	return true;
}

void media_quota_add(struct media_quota *q, int64_t ms, int64_t allowance_ms,
		     int64_t wait_s, int64_t now)
{
	if (allowance_ms <= 0 || ms <= 0)
		return;
	/* a window nobody used up ends after allowance + wait: a viewer who
	 * watched a little and came back later starts afresh */
	if (q->start && !q->blocked_until &&
	    now >= q->start + allowance_ms / 1000 + wait_s)
		memset(q, 0, sizeof(*q));
	if (!q->start)
		q->start = now;
	q->used_ms = ms > INT64_MAX - q->used_ms ? INT64_MAX : q->used_ms + ms;
	if (q->used_ms >= allowance_ms && !q->blocked_until)
		q->blocked_until = now + (wait_s > 0 ? wait_s : 1);
}
