/*
 * admin.c — the table of `partaged admin` commands, the help generated
 * from it, and the dispatch: the help needs no store, every other command
 * gets the stores opened (or, for fsck, the configuration).  Also the two
 * output helpers the commands share (admin_die, admin_put).
 */
#define _GNU_SOURCE
#include "admin.h"

#include <stdarg.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/text.h"
#include "../util/banned.h"

/* In the order the help lists them.  See struct admin_cmd for help. */
static const struct admin_cmd commands[] = {
	{ "fsck", NULL, admin_fsck,
	  "[--repair] [--full] [--grace SECONDS]\treconcile blobs and rows, "
	  "re-hash a sample (--full: every blob)\n" },
	{ "user", admin_user, NULL,
	  "add NAME\ta new account, the password on stdin\n"
	  "list\tname, tier, role, state, premium end\n"
	  "set-tier NAME free|premium [--days N]\t--days: premium for N days "
	  "from now (or from its current end)\n"
	  "set-role NAME user|rights_holder|admin\t\n"
	  "disable NAME\tits tokens are revoked too\n"
	  "enable NAME\t\n" },
	{ "voucher", admin_voucher, NULL,
	  "create --days N [--count K]\tprints one code per line\n" },
	{ "gc", admin_gc, NULL,
	  "[--now UNIXTIME] [--dry-run]\texpire links, collect blobs\n" },
	{ "takedown", admin_takedown, NULL,
	  "ID... [--content] --reason TEXT [--reference REF]\tremove the "
	  "links (--content: every link to their bytes), print them\n" },
	{ "restore", admin_restore, NULL,
	  "ID\tundo a takedown (quarantine)\n" },
	{ "blocklist", admin_blocklist, NULL,
	  "import FILE [--reason TEXT]\tSHA-256 per line ('-': stdin); the "
	  "stored copies are taken down too\n"
	  "export\tthe blocked SHA-256, one per line\n" },
	{ "reports", admin_reports, NULL,
	  "list\tthe abuse reports, one per line\n"
	  "show ID\tone report, a field per line\n"
	  "resolve ID [resolved|rejected|open]\t\n" },
	{ "audit", admin_audit, NULL, "\tthe append-only audit log\n" },
	{ "stats", admin_stats, NULL,
	  "[--recount]\tlive links and their bytes, blobs and the bytes "
	  "the store holds (--recount: check every counter against the "
	  "tables first, a shard a transaction)\n" },
};

const struct admin_cmd *admin_cmd_find(const char *name)
{
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* The help's layout: "  NAME ARGS", WHAT from column HELP_COL (on a line
 * of its own when NAME ARGS reaches it), wrapped at HELP_WIDTH. */
#define HELP_COL 40
#define HELP_WIDTH 78

static void help_line(FILE *out, const char *name, const char *args,
		      size_t alen, const char *what, size_t wlen)
{
	int col = fprintf(out, "  %s%s%.*s", name, alen ? " " : "", (int)alen,
			  args);
	size_t i = 0;

	while (i < wlen) {
		if (col > HELP_COL - 2) {
			fputc('\n', out);
			col = 0;
		}
		fprintf(out, "%*s", HELP_COL - col, "");
		/* whole words while they fit, at least one */
		size_t end = i, j = i;
		while (j < wlen) {
			size_t k = j;
			while (k < wlen && what[k] != ' ')
				k++;
			if (end > i && HELP_COL + (k - i) > HELP_WIDTH)
				break;
			end = k;
			for (j = k; j < wlen && what[j] == ' '; j++)
				;
		}
		fwrite(what + i, 1, end - i, out);
		col = HELP_COL + (int)(end - i);
		i = j;
	}
	fputc('\n', out);
}

void admin_help(FILE *out)
{
	fputs("admin commands (partaged admin [--config FILE] [--data DIR] "
	      "CMD ...):\n",
	      out);
	for (size_t i = 0; i < PT_ARRAY_LEN(commands); i++) {
		const char *p = commands[i].help;
		while (*p) {
			const char *tab = strchr(p, '\t');
			const char *nl = strchr(p, '\n');
			PT_ASSERT(tab && nl && tab < nl);
			help_line(out, commands[i].name, p, (size_t)(tab - p),
				  tab + 1, (size_t)(nl - tab - 1));
			p = nl + 1;
		}
	}
}

bool admin_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
	       strcmp(arg, "help") == 0;
}

/* `admin`, `admin --help`, `admin CMD ... --help`: the list of commands,
 * without opening the store.  Returns the exit status, or -1 when argv is
 * a command to run. */
static int help_wanted(int argc, char **argv)
{
	if (argc < 2) {
		fputs("partaged: admin needs a command\n", stderr);
		admin_help(stderr);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (admin_is_help(argv[i]) && (i == 1 || argv[i][0] == '-')) {
			admin_help(stdout);
			return 0;
		}
	}
	return -1;
}

int admin_main(const struct pt_conf *c, int argc, char **argv)
{
	int rc = help_wanted(argc, argv);
	if (rc >= 0)
		return rc;
	const struct admin_cmd *cmd = admin_cmd_find(argv[1]);
	if (!cmd) {
		fprintf(stderr,
			"partaged: unknown admin command '%s' "
			"(partaged admin --help lists them)\n",
			argv[1]);
		return 1;
	}
	if (cmd->run_conf)
		return cmd->run_conf(c, argc - 1, argv + 1);

	struct app app;
	if (app_open(&app, c))
		return 1;
	rc = app_db(&app) ? cmd->run(&app, argc - 1, argv + 1) : 1;
	app_close(&app);
	return rc;
}

int admin_die(const char *fmt, ...)
{
	va_list ap;
	fputs("partaged: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

void admin_put(const char *s, const char *after)
{
	struct pt_buf b;
	pt_buf_init(&b, 1 << 26);
	if (s)
		text_escape_buf(&b, s, strlen(s), TEXT_ESC_BACKSLASH);
	if (b.n)
		fwrite(b.p, 1, b.n, stdout);
	fputs(after, stdout);
	pt_buf_release(&b);
}
