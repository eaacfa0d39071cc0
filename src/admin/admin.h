/*
 * admin.h — `partaged admin [--config FILE] [--data DIR] CMD ...`: the
 * operator's commands on the stores a server with the same config uses
 * (also while it runs).  One table of commands (admin.c) names each, the
 * function that runs it and its lines of help; `partaged admin --help` and
 * `partaged --help` print the list generated from it, so a command cannot
 * be missing from the help.  The commands live by subject: fsck.c (the
 * consistency check and repair), users.c (user, voucher), moderation.c
 * (takedown, restore, reports, blocklist, audit), storage.c (gc, stats).
 *
 * This layer sits above api/ (struct app, the abuse and gc passes) and
 * store/, below main.c.  Output contract (docs/operations.md): results on
 * stdout; exit 0, or 1 with one line "partaged: ..." on stderr.  Every
 * command runs on the calling thread and blocks on the stores.
 */
#ifndef PT_ADMIN_H
#define PT_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

#include "../api/api.h"
#include "../conf.h"

/*
 * One command.  argv[0] is its name; exactly one of run and run_conf is
 * set: run gets the stores opened (app_open, with a database connection)
 * before it parses anything, run_conf only the configuration (fsck parses
 * its options before it opens the stores).  Both return the exit status.
 *
 * help holds the command's lines in the help, "ARGS\tWHAT\n" each: ARGS
 * comes after the name ("" for none), WHAT is wrapped into a column of its
 * own (empty: none).
 */
struct admin_cmd {
	const char *name;
	int (*run)(struct app *app, int argc, char **argv);
	int (*run_conf)(const struct pt_conf *c, int argc, char **argv);
	const char *help;
};

/* The command named name, or NULL. */
const struct admin_cmd *admin_cmd_find(const char *name);

/* The list of commands, generated from the table, as `partaged admin
 * --help` prints it. */
void admin_help(FILE *out);

/* Whether arg asks for help: --help, -h or help. */
bool admin_is_help(const char *arg);

/*
 * `partaged admin ...` with argv[0] "admin": the help (no command, or
 * --help, -h or help first or --help/-h after the command: no store is
 * opened), or the command argv[1] run.  Returns the exit status.
 */
int admin_main(const struct pt_conf *c, int argc, char **argv);

/* ---- for the commands ---- */

/* One line "partaged: ..." on stderr; returns 1 (the exit status). */
int admin_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Print s (NULL: nothing), then after.  s is what a client wrote (report
 * text, contacts, names, takedown reasons): it goes out through
 * text_escape, so it is one field of one line and a terminal never gets
 * an escape sequence from it.  Backslashes are doubled: "\x1b" printed is
 * a client's ESC, "\\x1b" their four characters.
 */
void admin_put(const char *s, const char *after);

/* fsck.c */
int admin_fsck(const struct pt_conf *c, int argc, char **argv);
/* users.c */
int admin_user(struct app *app, int argc, char **argv);
int admin_voucher(struct app *app, int argc, char **argv);
/* moderation.c */
int admin_takedown(struct app *app, int argc, char **argv);
int admin_restore(struct app *app, int argc, char **argv);
int admin_blocklist(struct app *app, int argc, char **argv);
int admin_reports(struct app *app, int argc, char **argv);
int admin_audit(struct app *app, int argc, char **argv);
/* storage.c */
int admin_gc(struct app *app, int argc, char **argv);
int admin_stats(struct app *app, int argc, char **argv);

#endif
