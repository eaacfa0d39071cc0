/*
 * cluster.c — the limits that must hold for every node on one PostgreSQL:
 * the tiers' per-address download slots, and the liveness of the node
 * that holds a tus upload's lease.
 *
 * Every node writes a heartbeat (repo_node_beat) once a second from the
 * health checker's thread (health.c), which asks the database that often
 * anyway.  A node whose heartbeat is older than node_lease_seconds is
 * gone: the download slots it recorded count for nothing, and another
 * node may take its upload leases (repo_upload_claim).  So a node killed
 * with -9, powered off or cut from the database frees both within the
 * lease, and nothing has to delete its rows first (the checker deletes
 * them later, once a minute, and a node deletes its own when it starts).
 *
 * A download's slot is taken in memory first (slots.c: it knows this
 * node's connections and probes them for dead peers), then in the
 * database (repo_slot_take: the other live nodes' connections of the
 * address, under a lock of the address), and given back to both.  A
 * refusal by the database is the same answer as a local one (429, 503).
 * When the database cannot be asked, the node keeps only its own limit
 * (fail open): it could not have looked the link up either, unless from
 * the link cache (link_cache_ms), and refusing every download while
 * PostgreSQL restarts would turn a blip into an outage; the slot is
 * then not recorded, so other nodes do not see that download.  A slot
 * that could not be deleted is kept in a list and deleted by the
 * checker's next beat.
 *
 * A node that cannot write its heartbeat may already be taken for dead:
 * its PATCHes stop (cluster_fenced) one second before the lease would
 * let another node take their uploads, counted from when the last
 * heartbeat that succeeded was sent, which is before the database
 * stamped it.
 */
#define _GNU_SOURCE
#include "app.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/pt.h"
#include "../util/banned.h"

#define PENDING_MAX 4096
/* beats between two purges of dead nodes' rows, and how long a node must
 * be silent for its rows to go */
#define PURGE_EVERY 60
#define PURGE_SILENT_MS (10 * 60 * 1000)

struct cluster {
	pthread_mutex_t lock;
	uint64_t pending[PENDING_MAX]; /* slots whose delete failed */
	size_t npending;
	unsigned beats;
	uint64_t beat_ok_ns; /* when the last beat that succeeded was sent */
	bool warned;         /* "cannot ask" logged since the last success */
};

struct cluster *cluster_new(const struct pt_conf *conf)
{
	if (strcmp(conf->metadata_backend, "postgres") != 0)
		return NULL;
	struct cluster *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int64_t lease_ms(const struct app *app)
{
	return (int64_t)app->conf->node_lease_seconds * 1000;
}

void cluster_started(struct app *app)
{
	struct db *db = app_db(app);
	if (!app->cluster || !db)
		return;
	/* the slots of a previous life of this node are gone */
	repo_slots_drop_node(db, app->node);
}

int cluster_beat(struct app *app)
{
	struct cluster *c = app->cluster;
	struct db *db = app_db(app);
	uint64_t sent = pt_mono_ns();
	int err = db ? repo_node_beat(db, app->node) : PT_EUNAVAIL;
	if (err)
		return err;
	__atomic_store_n(&c->beat_ok_ns, sent, __ATOMIC_RELEASE);
	/* the slots whose delete failed, now that the database answers */
	for (;;) {
		pthread_mutex_lock(&c->lock);
		uint64_t t = c->npending ? c->pending[c->npending - 1] : 0;
		pthread_mutex_unlock(&c->lock);
		if (!t || repo_slot_drop(db, app->node, t))
			break;
		pthread_mutex_lock(&c->lock);
		if (c->npending && c->pending[c->npending - 1] == t)
			c->npending--;
		pthread_mutex_unlock(&c->lock);
	}
	if (++c->beats % PURGE_EVERY == 0)
		repo_node_purge(db, PURGE_SILENT_MS);
	__atomic_store_n(&c->warned, false, __ATOMIC_RELAXED);
	return 0;
}

bool cluster_fenced(struct app *app)
{
	struct cluster *c = app->cluster;
	if (!c)
		return false;
	uint64_t ok = __atomic_load_n(&c->beat_ok_ns, __ATOMIC_ACQUIRE);
	/* no beat yet (a server without its checker): nothing to go by */
	return ok && pt_mono_ns() - ok + 1000000000ull >
			     (uint64_t)lease_ms(app) * 1000000ull;
}

int cluster_slot_take(struct app *app, const char *ip, const char *id,
		      uint64_t token, uint64_t parallel, uint64_t connections,
		      char *other, size_t other_len)
{
	struct cluster *c = app->cluster;
	struct db *db = app_db(app);
	if (!c || !token)
		return REPO_SLOT_OK;
	struct repo_slot_claim claim = { .node = app->node,
					 .token = token,
					 .ip = ip,
					 .id = id,
					 .parallel = parallel,
					 .connections = connections,
					 .lease_ms = lease_ms(app) };
	slots_counts(app->slots, ip, id, &claim.local_mine,
		     &claim.local_others);
	int r = db ? repo_slot_take(db, &claim, other, other_len)
		   : PT_EUNAVAIL;
	if (r < 0) {
		/* fail open to this node's own limit (above) */
		if (!__atomic_exchange_n(&c->warned, true, __ATOMIC_RELAXED))
			pt_log("cluster: cannot record a download slot of "
			       "'%s': %s; this node's own limits only until "
			       "the database answers",
			       ip, pt_strerror(r));
		return REPO_SLOT_OK;
	}
	return r;
}

void cluster_slot_drop(struct app *app, uint64_t token)
{
	struct cluster *c = app->cluster;
	struct db *db = app_db(app);
	if (!c || !token)
		return;
	if (db && !repo_slot_drop(db, app->node, token))
		return;
	pthread_mutex_lock(&c->lock);
	if (c->npending < PENDING_MAX)
		c->pending[c->npending++] = token;
	pthread_mutex_unlock(&c->lock);
}
