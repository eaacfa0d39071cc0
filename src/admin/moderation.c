/*
 * moderation.c — the admin side of abuse handling: `takedown` and
 * `restore` (through api/abuse.c, as the takedown API), `reports` (list,
 * show, resolve), `blocklist` (import, export: SHA-256 lines) and `audit`
 * (the append-only log).  Everything a client wrote is printed through
 * admin_put, escaped.
 */
#define _GNU_SOURCE
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

/* The command's transaction found the disk full, SQLite rolled it back
 * whole, and the reserve was released since (db_retryable): it may run
 * once more.  Statements outside a transaction are run again by the
 * driver itself (db_sqlite.c). */
static bool again_after_full(struct app *app, int err)
{
	struct db *db = app_db(app);
	return err == -ENOSPC && db && db_retryable(db);
}

int admin_takedown(struct app *app, int argc, char **argv)
{
	const char *reason = NULL, *ref = "";
	bool content = false;
	const char *ids[64];
	size_t n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--content"))
			content = true;
		else if (!strcmp(argv[i], "--reason") && i + 1 < argc)
			reason = argv[++i];
		else if (!strcmp(argv[i], "--reference") && i + 1 < argc)
			ref = argv[++i];
		else if (argv[i][0] != '-' && n < PT_ARRAY_LEN(ids))
			ids[n++] = argv[i];
		else
			return admin_die(
				"usage: takedown ID... [--content] --reason "
				"TEXT [--reference REF]");
	}
	if (!n || !reason || !*reason)
		return admin_die(
			"usage: takedown ID... [--content] --reason TEXT "
			"[--reference REF]");
	struct pt_pool *pool = pt_pool_new();
	char **affected;
	size_t na;
	int err = abuse_takedown(app, "admin", ids, n, content, reason, ref,
				 pool, &affected, &na);
	if (again_after_full(app, err))
		err = abuse_takedown(app, "admin", ids, n, content, reason, ref,
				     pool, &affected, &na);
	if (!err) {
		for (size_t i = 0; i < na; i++)
			printf("%s\n", affected[i]);
		if (na == 0)
			err = PT_ENOTFOUND;
	}
	pt_pool_free(pool);
	if (err == PT_ENOTFOUND)
		return admin_die("takedown: no live link among the ids given");
	if (err)
		return admin_die("takedown: %s", pt_strerror(err));
	return 0;
}

int admin_restore(struct app *app, int argc, char **argv)
{
	int64_t n = 0;
	if (argc != 2)
		return admin_die("usage: restore ID");
	int err = abuse_restore(app, "admin", argv[1], &n);
	if (again_after_full(app, err))
		err = abuse_restore(app, "admin", argv[1], &n);
	if (err == PT_ENOTFOUND)
		return admin_die("restore: no link '%s'", argv[1]);
	if (err == PT_ECONFLICT)
		return admin_die("restore: '%s' was not taken down", argv[1]);
	if (err == PT_EGONE)
		return admin_die(
			"restore: the quarantine of '%s' is over, its bytes "
			"are gone",
			argv[1]);
	if (err)
		return admin_die("restore: %s", pt_strerror(err));
	printf("%lld links restored\n", (long long)n);
	return 0;
}

static int print_audit(const struct audit_row *a, void *arg)
{
	char d[32];
	pt_http_date(a->at, d);
	printf("%s\t", d);
	admin_put(a->actor, "\t");
	admin_put(a->action, "\t");
	admin_put(a->target, "\t");
	admin_put(a->reason, "\t");
	admin_put(a->detail, "\n");
	return 0;
}

int admin_audit(struct app *app, int argc, char **argv)
{
	return repo_audit_each(app_db(app), 0, print_audit, NULL) ? 1 : 0;
}

static int print_report(const struct report_row *r, void *arg)
{
	char d[32];
	pt_http_date(r->created, d);
	admin_put(r->id, "\t");
	printf("%s\t", d);
	admin_put(r->state, "\t");
	admin_put(r->link_id, "\t");
	admin_put(r->category, "\t");
	admin_put(r->ip, "\t");
	admin_put(r->contact, "\t");
	admin_put(r->body, "\n");
	return 0;
}

struct report_pick {
	const char *id;
	bool found;
};

static int show_report(const struct report_row *r, void *arg)
{
	struct report_pick *p = arg;
	if (strcmp(r->id, p->id) != 0)
		return 0;
	char d[32];
	pt_http_date(r->created, d);
	fputs("id: ", stdout);
	admin_put(r->id, "\ncreated: ");
	printf("%s\nstate: ", d);
	admin_put(r->state, "\nlink: ");
	admin_put(r->link_id, "\ncategory: ");
	admin_put(r->category, "\nfrom: ");
	admin_put(r->ip, "\ncontact: ");
	admin_put(r->contact, "\ntext: ");
	admin_put(r->body, "\n");
	p->found = true;
	return 1;
}

int admin_reports(struct app *app, int argc, char **argv)
{
	struct db *db = app_db(app);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return repo_reports_each(db, print_report, NULL) ? 1 : 0;
	if (argc == 3 && !strcmp(argv[1], "show")) {
		struct report_pick p = { argv[2], false };
		repo_reports_each(db, show_report, &p);
		return p.found ? 0 : admin_die("no report '%s'", argv[2]);
	}
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "resolve")) {
		const char *state = argc == 4 ? argv[3] : "resolved";
		if (strcmp(state, "resolved") && strcmp(state, "rejected") &&
		    strcmp(state, "open"))
			return admin_die(
				"resolve: the state is resolved, rejected "
				"or open");
		int err = repo_report_resolve(db, argv[2], state);
		if (err == PT_ENOTFOUND)
			return admin_die("no report '%s'", argv[2]);
		if (err)
			return admin_die("resolve: %s", pt_strerror(err));
		repo_audit(db, "admin", "report_resolve", argv[2], state, "",
			   pt_now());
		return 0;
	}
	return admin_die("usage: reports list | show ID | resolve ID "
			 "[resolved|rejected|open]");
}

static int print_block(const char *hex, const char *reason, void *arg)
{
	printf("%s  # ", hex);
	admin_put(reason, "\n");
	return 0;
}

/* A listed hash: blocklisted, and every live link to it taken down as
 * a content takedown would (abuse_takedown_hash), in one transaction. */
static int import_one(struct app *app, const char *hex, const char *reason,
		      int64_t *taken)
{
	struct pt_pool *pool = pt_pool_new();
	char **affected;
	size_t na;
	int err = abuse_takedown_hash(app, "admin", hex, reason, pool,
				      &affected, &na, taken);
	if (again_after_full(app, err))
		err = abuse_takedown_hash(app, "admin", hex, reason, pool,
					  &affected, &na, taken);
	pt_pool_free(pool);
	return err;
}

/* One lowercase SHA-256 hex per line, '#' starts a comment: the format
 * operators exchange between instances.  An import also reaches the
 * copies already stored: each listed hash is taken down like a content
 * takedown, with the import's reason. */
int admin_blocklist(struct app *app, int argc, char **argv)
{
	struct db *db = app_db(app);
	const char *reason = "imported blocklist";
	if (argc == 2 && !strcmp(argv[1], "export")) {
		printf("# partage blocklist: one SHA-256 per line\n");
		return repo_blocklist_each(db, print_block, NULL) ? 1 : 0;
	}
	if (argc == 5 && !strcmp(argv[3], "--reason") && *argv[4])
		reason = argv[4];
	else if (argc != 3)
		return admin_die(
			"usage: blocklist import FILE [--reason TEXT] | export");
	if (strcmp(argv[1], "import") != 0)
		return admin_die(
			"usage: blocklist import FILE [--reason TEXT] | export");
	FILE *f = strcmp(argv[2], "-") ? fopen(argv[2], "re") : stdin;
	if (!f)
		return admin_die("cannot open '%s': %s", argv[2],
				 strerror(errno));
	char *line = NULL;
	size_t cap = 0, lineno = 0, added = 0;
	int64_t links = 0;
	int rc = 0;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		char *p = line, *e;
		while (*p == ' ' || *p == '\t')
			p++;
		if ((e = strchr(p, '#')))
			*e = '\0';
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' ||
				 e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		if (!*p)
			continue;
		for (char *c = p; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		if (!blob_hex_valid(p)) {
			rc = admin_die("%s:%zu: not a SHA-256: '%s'", argv[2],
				       lineno, p);
			break;
		}
		int64_t taken = 0;
		int err = import_one(app, p, reason, &taken);
		if (err) {
			rc = admin_die("blocklist import: cannot store '%s': %s",
				       p, pt_strerror(err));
			break;
		}
		links += taken;
		added++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (!rc) {
		char detail[80];
		snprintf(detail, sizeof(detail), "%zu hashes; %lld links taken down",
			 added, (long long)links);
		repo_audit(db, "admin", "blocklist_import", argv[2], reason,
			   detail, pt_now());
		printf("%zu hashes imported, %lld links taken down\n", added,
		       (long long)links);
	}
	return rc;
}
