/*
 * repo_media.c — media info of blobs (table media, issue 16): what the
 * probe found, and the blobs still to probe.  Keyed by content, so every
 * link to the same bytes shares one probe.
 */
#include "repo_int.h"

#include "../util/pt.h"
#include "../util/banned.h"

int repo_media_get(struct db *db, const char *hex, enum media_state *state,
		   struct media_info *m)
{
	struct db_stmt *st;
	memset(m, 0, sizeof(*m));
	*state = MEDIA_PENDING;
	int err = db_get(db,
			 "SELECT state, kind, container, vcodec, acodec, "
			 "duration_ms, width, height, bitrate FROM media "
			 "WHERE sha256 = $1",
			 &st, "t", hex);
	if (err)
		return err;
	int64_t s = db_col_int(st, 0);
	*state = s >= MEDIA_DONE && s <= MEDIA_SKIPPED ? (enum media_state)s
						       : MEDIA_FAILED;
	int k = media_kind_parse(db_col_text(st, 1) ? db_col_text(st, 1) : "");
	m->kind = k > 0 ? (enum media_kind)k : MEDIA_NONE;
	copy_fixed(m->container, sizeof(m->container), db_col_text(st, 2));
	copy_fixed(m->vcodec, sizeof(m->vcodec), db_col_text(st, 3));
	copy_fixed(m->acodec, sizeof(m->acodec), db_col_text(st, 4));
	m->duration_ms = db_col_int(st, 5);
	m->width = (uint32_t)db_col_int(st, 6);
	m->height = (uint32_t)db_col_int(st, 7);
	m->bitrate = db_col_int(st, 8);
	db_done(st);
	if (*state == MEDIA_DONE && m->kind == MEDIA_NONE)
		*state = MEDIA_FAILED;
	return 0;
}

int repo_media_put(struct db *db, const char *hex, enum media_state state,
		   const struct media_info *m, int64_t now)
{
	static const struct media_info none;
	if (!m || state != MEDIA_DONE)
		m = &none;
	int64_t rc = db_run(
		db,
		"INSERT INTO media(sha256, state, kind, container, vcodec, "
		"acodec, duration_ms, width, height, bitrate, probed) VALUES "
		"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
		"ON CONFLICT(sha256) DO UPDATE SET state = excluded.state, "
		"kind = excluded.kind, container = excluded.container, "
		"vcodec = excluded.vcodec, acodec = excluded.acodec, "
		"duration_ms = excluded.duration_ms, width = excluded.width, "
		"height = excluded.height, bitrate = excluded.bitrate, "
		"probed = excluded.probed",
		"tittttiiiii", hex, (int64_t)state,
		state == MEDIA_DONE ? media_kind_name(m->kind) : "",
		m->container, m->vcodec, m->acodec, m->duration_ms,
		(int64_t)m->width, (int64_t)m->height, m->bitrate, now);
	return rc < 0 ? (int)rc : 0;
}

int repo_media_pending(struct db *db, int64_t max,
		       int (*cb)(const char *hex, const char *mime, void *arg),
		       void *arg)
{
	struct db_stmt *st;
	int err = db_query(db,
			   "SELECT l.sha256, MIN(l.mime) FROM links l "
			   "LEFT JOIN media m ON m.sha256 = l.sha256 "
			   "WHERE m.sha256 IS NULL AND l.state = 0 "
			   "GROUP BY l.sha256 LIMIT $1",
			   &st, "i", max);
	if (err)
		return err;
	while ((err = db_step(st)) == DB_ROW) {
		const char *hex = db_col_text(st, 0);
		const char *mime = db_col_text(st, 1);
		if ((err = cb(hex ? hex : "", mime ? mime : "", arg)))
			break;
	}
	db_done(st);
	return err == DB_DONE ? 0 : err;
}
