/* qsgadm: run MQSC commands against a queue-sharing group, like runmqsc,
 * show the group's Raft status and run health checks.
 *
 *   qsgadm [-c CONN] [-f FILE] [--json] [-t SECONDS]     MQSC commands
 *   qsgadm status [-c CONN] [--json]                      dspmq-like table
 *   qsgadm check NAME [ARG] [-c CONN] [-t SECONDS]        health check
 *
 * MQSC input comes from FILE, from a terminal (line editing and history with
 * libedit) or from a pipe: lines starting with '*' are comments, blank lines
 * are skipped, a trailing '-' continues the command on the next line keeping
 * its leading blanks, a trailing '+' continues it with the next line's
 * leading blanks removed; END (or EXIT, QUIT) ends the input. Each command
 * is sent to the group (the member is the authority on syntax) and its reply
 * printed in MQSC style or, with --json, as one JSON object per line.
 * CMDSCOPE(*) and CMDSCOPE(qmname) are handled here: the command is sent
 * without CMDSCOPE to each member (or the one named) directly, at the client
 * address DISPLAY GROUP shows, and every reply is labelled with its member.
 *
 * Exit status (MQSC, status): 0 every command succeeded, 1 some command
 * failed (or a member in the command scope could not be reached), 2 could
 * not connect, bad usage or unreadable input. check: 0 the check passed, 1
 * it failed (including: the member could not be reached), 2 bad usage. See
 * docs/admin.md. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#include "libqsg/qsg.h"
#include "qsgadm.h"

#define MQSC_COLUMN 40 /* width of the left attribute column, as runmqsc */

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

/* MQSC style: two attributes per line, the left one in a 40-column field. */
static void obj_mqsc(struct strbuf *out, const struct robj *o)
{
	struct strbuf item = {0};
	for (size_t i = 0; i < o->n; i++) {
		sb_reset(&item);
		sb_printf(&item, "%s(%s)", o->names[i], o->values[i]);
		bool left = (i % 2) == 0;
		if (left) {
			sb_adds(out, "   ");
			sb_adds(out, sb_str(&item));
			if (i + 1 == o->n || item.len >= MQSC_COLUMN) {
				sb_adds(out, "\n");
				/* A long left item: the next one starts a line. */
				if (i + 1 < o->n && item.len >= MQSC_COLUMN) {
					i++;
					sb_reset(&item);
					sb_printf(&item, "%s(%s)", o->names[i], o->values[i]);
					sb_adds(out, "   ");
					sb_adds(out, sb_str(&item));
					sb_adds(out, "\n");
				}
			} else {
				for (size_t k = item.len; k < MQSC_COLUMN; k++)
					sb_add(out, " ", 1);
			}
		} else {
			sb_adds(out, sb_str(&item));
			sb_adds(out, "\n");
		}
	}
	if (item.oom)
		out->oom = true;
	free(item.p);
}

static void obj_json(struct strbuf *out, const struct robj *o)
{
	sb_adds(out, "{");
	for (size_t i = 0; i < o->n; i++) {
		if (i > 0)
			sb_adds(out, ", ");
		sb_json_str(out, o->names[i]);
		sb_adds(out, ": ");
		sb_json_str(out, o->values[i]);
	}
	sb_adds(out, "}");
}

static void objs_json(struct strbuf *out, const struct reply *r, size_t from, size_t to)
{
	sb_adds(out, "[");
	for (size_t i = from; i < to; i++) {
		if (i > from)
			sb_adds(out, ", ");
		obj_json(out, &r->obj[i]);
	}
	sb_adds(out, "]");
}

/* Print one reply; member labels it (CMDSCOPE). */
static void print_reply(struct ctx *x, const char *command, const char *member,
			const struct reply *r)
{
	struct strbuf *b = &x->line;
	sb_reset(b);
	if (x->json) {
		sb_adds(b, "{");
		if (member != NULL) {
			sb_adds(b, "\"member\": ");
			sb_json_str(b, member);
			sb_adds(b, ", ");
		}
		sb_adds(b, "\"command\": ");
		sb_json_str(b, command);
		sb_printf(b, ", \"rc\": %d, \"reason\": ", r->rc);
		sb_json_str(b, qsg_reason_name(r->rc));
		sb_adds(b, ", \"text\": ");
		sb_json_str(b, r->text);
		sb_adds(b, ", \"objects\": ");
		objs_json(b, r, 0, r->nobj);
		sb_adds(b, "}\n");
	} else {
		if (member != NULL) {
			sb_printf(b, "%s: ", member);
			if (r->text[0] != '\0')
				sb_adds(b, r->text);
			else
				sb_printf(b, "%s (%d)", qsg_reason_name(r->rc), r->rc);
			sb_adds(b, "\n");
		} else if (r->text[0] != '\0') {
			sb_adds(b, r->text);
			sb_adds(b, "\n");
		}
		for (size_t i = 0; i < r->nobj; i++)
			obj_mqsc(b, &r->obj[i]);
		sb_adds(b, "\n");
	}
	if (b->oom) {
		fprintf(stderr, "qsgadm: out of memory\n");
		x->fatal = true;
		return;
	}
	fputs(b->p, stdout);
	fflush(stdout);
}

static void count_rc(struct ctx *x, int rc)
{
	if (rc == QSG_RC_MQSC_SYNTAX || rc == QSG_RC_BAD_ATTR)
		x->nsyntax++;
	else if (rc != QSG_OK)
		x->nfailed++;
}

/* ------------------------------------------------------------------------
 * CMDSCOPE (client side)
 * ------------------------------------------------------------------------ */

static bool is_sep(char ch)
{
	return ch == ' ' || ch == '\t' || ch == ',' || ch == '\r' || ch == '\n';
}

/* Find CMDSCOPE(value) outside quotes in cmd: remove it (in place) and put
 * its value (unquoted values upper-cased, blanks removed) in scope. Returns
 * 1 when found, 0 when not, -1 when malformed. */
static int take_cmdscope(char *cmd, char *scope, size_t size)
{
	static const char kw[] = "CMDSCOPE";
	size_t n = strlen(cmd);
	bool quoted = false;
	for (size_t i = 0; i < n; i++) {
		if (cmd[i] == '\'') {
			quoted = !quoted;
			continue;
		}
		if (quoted || (i > 0 && !is_sep(cmd[i - 1]) && cmd[i - 1] != ')'))
			continue;
		if (strncasecmp(cmd + i, kw, sizeof kw - 1) != 0)
			continue;
		size_t j = i + sizeof kw - 1;
		while (j < n && (cmd[j] == ' ' || cmd[j] == '\t'))
			j++;
		if (j >= n || cmd[j] != '(')
			continue;
		j++;
		size_t o = 0;
		bool q = false;
		for (; j < n; j++) {
			char ch = cmd[j];
			if (ch == '\'') {
				if (q && j + 1 < n && cmd[j + 1] == '\'') {
					j++;
				} else {
					q = !q;
					continue;
				}
			} else if (ch == ')' && !q) {
				break;
			}
			if (ch == ' ' || ch == '\t')
				continue;
			if (o + 1 >= size)
				return -1;
			scope[o++] = q ? ch : (char)toupper((unsigned char)ch);
		}
		if (j >= n)
			return -1;
		scope[o] = '\0';
		memmove(cmd + i, cmd + j + 1, n - j); /* includes the NUL */
		return 1;
	}
	return 0;
}

/* Members and their client addresses from DISPLAY GROUP. */
static int group_members(qsg_conn *c, struct member **out, size_t *count, struct reply *r)
{
	*out = NULL;
	*count = 0;
	int rc = do_admin(c, "DISPLAY GROUP CONNAME", r);
	if (rc != QSG_OK)
		return rc;
	struct member *m = calloc(r->nobj ? r->nobj : 1, sizeof *m);
	if (m == NULL)
		return QSG_RC_STORAGE_NOT_AVAILABLE;
	size_t k = 0;
	for (size_t i = 0; i < r->nobj; i++) {
		const char *name = obj_get(&r->obj[i], "QMNAME");
		const char *addr = obj_get(&r->obj[i], "CONNAME");
		if (name == NULL || name[0] == '\0')
			continue;
		snprintf(m[k].name, sizeof m[k].name, "%s", name);
		snprintf(m[k].conname, sizeof m[k].conname, "%s", addr != NULL ? addr : "");
		k++;
	}
	*out = m;
	*count = k;
	return QSG_OK;
}

/* Send cmd (CMDSCOPE removed) to every member, or to the one named. */
static void run_scoped(struct ctx *x, const char *shown, const char *cmd, const char *scope)
{
	struct reply r = {0};
	struct member *m = NULL;
	size_t n = 0;
	int rc = group_members(x->conn, &m, &n, &r);
	if (rc != QSG_OK) {
		snprintf(r.text, sizeof r.text,
			 "qsgadm: CMDSCOPE(%s): cannot list the members (DISPLAY GROUP): %s (%d)",
			 scope, qsg_reason_name(rc), rc);
		r.rc = rc;
		print_reply(x, shown, NULL, &r);
		count_rc(x, rc);
		reply_clear(&r);
		free(m);
		return;
	}
	bool all = strcmp(scope, "*") == 0, found = false;
	for (size_t i = 0; i < n && !x->fatal; i++) {
		if (!all && strcmp(m[i].name, scope) != 0)
			continue;
		found = true;
		char errmsg[QSG_ERRMSG_SIZE] = "";
		qsg_conn *c = NULL;
		reply_clear(&r);
		if (m[i].conname[0] == '\0') {
			rc = QSG_RC_Q_MGR_NOT_AVAILABLE;
			snprintf(errmsg, sizeof errmsg, "no client address known");
		} else {
			rc = connect_timeout(m[i].conname, x->member_timeout, &c, errmsg);
		}
		if (rc != QSG_OK) {
			r.rc = QSG_RC_Q_MGR_NOT_AVAILABLE;
			snprintf(r.text, sizeof r.text, "%s (%d): cannot reach %s at %s: %s",
				 qsg_reason_name(r.rc), r.rc, m[i].name, m[i].conname,
				 errmsg[0] ? errmsg : qsg_reason_name(rc));
		} else {
			do_admin(c, cmd, &r);
			qsg_disconnect(c);
		}
		print_reply(x, shown, m[i].name, &r);
		count_rc(x, r.rc);
	}
	if (!found) {
		reply_clear(&r);
		r.rc = QSG_RC_Q_MGR_NOT_AVAILABLE;
		snprintf(r.text, sizeof r.text,
			 "%s (%d): CMDSCOPE(%s): %s is not a member of the group",
			 qsg_reason_name(r.rc), r.rc, scope, scope);
		print_reply(x, shown, scope, &r);
		count_rc(x, r.rc);
	}
	reply_clear(&r);
	free(m);
}

/* Run one MQSC command. */
static void run_command(struct ctx *x, char *cmd)
{
	char scope[64];
	char *shown = qsgadm_redact(cmd); /* echoed and in replies: no password */
	if (shown == NULL) {
		fprintf(stderr, "qsgadm: out of memory\n");
		x->fatal = true;
		return;
	}
	x->nread++;
	if (!x->json && !x->interactive)
		printf("%6u : %s\n", x->nread, shown);
	int got = take_cmdscope(cmd, scope, sizeof scope);
	if (got == 1 && scope[0] != '\0') {
		run_scoped(x, shown, cmd, scope);
	} else {
		struct reply r = {0};
		if (got < 0) {
			r.rc = QSG_RC_MQSC_SYNTAX;
			snprintf(r.text, sizeof r.text,
				 "QSG0001E: CMDSCOPE: missing ')' or value too long.");
		} else {
			/* CMDSCOPE(' '): the member we are connected to. */
			do_admin(x->conn, cmd, &r);
		}
		print_reply(x, shown, NULL, &r);
		count_rc(x, r.rc);
		reply_clear(&r);
	}
	free(shown);
}

/* ------------------------------------------------------------------------
 * Input: MQSC lines -> commands
 * ------------------------------------------------------------------------ */

struct reader {
	FILE *in;
	char *line;
	size_t cap;
	bool interactive; /* stdin is a terminal: prompts */
	bool edit; /* libedit line editing */
	char *eline; /* libedit's last line */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Next physical line (newline removed) in *out: its length, -1 at the end,
 * -2 on a read error. */
static ssize_t next_line(struct reader *r, bool cont, char **out)
{
	const char *prompt = cont ? "      > " : "qsgadm> ";
#ifdef HAVE_LIBEDIT
	if (r->edit) {
		free(r->eline);
		r->eline = readline(prompt);
		if (r->eline == NULL)
			return -1;
		*out = r->eline;
		return (ssize_t)strlen(r->eline);
	}
#endif
	if (r->interactive) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	errno = 0;
	ssize_t n = getline(&r->line, &r->cap, r->in);
	if (n < 0)
		return ferror(r->in) ? -2 : -1;
	*out = r->line;
	return n;
}

/* Read the next command into cmd. Returns 1 with a command, 0 at the end,
 * -1 on a read error. */
static int read_command(struct reader *r, struct strbuf *cmd)
{
	enum { NONE, MINUS, PLUS } cont = NONE;

	sb_reset(cmd);
	for (;;) {
		char *s = NULL;
		ssize_t n = next_line(r, cont != NONE, &s);
		if (n == -2)
			return -1;
		if (n < 0) {
			if (r->interactive)
				fputs("\n", stdout);
			return cont != NONE && cmd->len > 0 ? 1 : 0;
		}
		size_t len = (size_t)n;
		while (len > 0 &&
		       (s[len - 1] == '\n' || s[len - 1] == '\r' || is_blank(s[len - 1])))
			len--;
		s[len] = '\0';
		if (cont == NONE) {
			if (s[0] == '*')
				continue;
			size_t i = 0;
			while (i < len && is_blank(s[i]))
				i++;
			if (i == len)
				continue;
		}
		if (cont == PLUS) {
			while (len > 0 && is_blank(*s)) {
				s++;
				len--;
			}
		}
		if (len > 0 && (s[len - 1] == '-' || s[len - 1] == '+')) {
			cont = s[len - 1] == '-' ? MINUS : PLUS;
			sb_add(cmd, s, len - 1);
			continue;
		}
		sb_add(cmd, s, len);
		/* A command of blanks only (after continuation) is skipped. */
		size_t i = 0;
		while (i < cmd->len && is_blank(cmd->p[i]))
			i++;
		if (i == cmd->len) {
			sb_reset(cmd);
			cont = NONE;
			continue;
		}
		return 1;
	}
}

/* END, EXIT or QUIT (blanks around allowed): end of input. */
static bool is_end(const char *s)
{
	while (is_blank(*s))
		s++;
	size_t n = 0;
	while (s[n] != '\0' && !is_blank(s[n]))
		n++;
	const char *t = s + n;
	while (is_blank(*t))
		t++;
	if (*t != '\0')
		return false;
	return (n == 3 && strncasecmp(s, "END", 3) == 0) ||
	       (n == 4 && (strncasecmp(s, "EXIT", 4) == 0 || strncasecmp(s, "QUIT", 4) == 0));
}

static int run_mqsc(struct ctx *x, const char *file)
{
	struct reader rd = {.in = stdin};
	char history[4096] = "";

	if (file != NULL) {
		rd.in = fopen(file, "r");
		if (rd.in == NULL) {
			fprintf(stderr, "qsgadm: cannot open %s: %s\n", file, strerror(errno));
			return 2;
		}
	} else if (isatty(STDIN_FILENO)) {
		rd.interactive = true;
		x->interactive = true;
#ifdef HAVE_LIBEDIT
		rd.edit = true;
		const char *home = getenv("HOME");
		if (home != NULL && home[0] != '\0') {
			snprintf(history, sizeof history, "%s/.qsgadm_history", home);
			stifle_history(1000);
			(void)read_history(history);
		}
#endif
	}

	char errmsg[QSG_ERRMSG_SIZE] = "";
	int rc = qsg_connect(x->conn_list, "qsgadm", &x->conn, errmsg);
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgadm: cannot connect: %s (%d): %s\n", qsg_reason_name(rc), rc,
			errmsg[0] ? errmsg : qsg_reason_text(rc));
		if (rd.in != stdin)
			fclose(rd.in);
		return 2;
	}
	if (rd.interactive)
		printf("qsgadm: connected; MQSC commands, END to finish.\n");

	struct strbuf cmd = {0};
	while (!x->fatal) {
		int got = read_command(&rd, &cmd);
		if (got < 0) {
			fprintf(stderr, "qsgadm: read error: %s\n", strerror(errno));
			x->fatal = true;
			break;
		}
		if (got == 0)
			break;
		if (cmd.oom) {
			fprintf(stderr, "qsgadm: out of memory\n");
			x->fatal = true;
			break;
		}
#ifdef HAVE_LIBEDIT
		if (rd.edit) {
			char *h = qsgadm_redact(cmd.p);
			if (h != NULL)
				add_history(h);
			free(h);
		}
#endif
		if (is_end(cmd.p))
			break;
		run_command(x, cmd.p);
		explicit_bzero(cmd.p, cmd.len); /* may hold a PASSWORD(...) */
	}
	if (!x->json)
		printf("%u MQSC commands read. %u commands have a syntax error. %u commands "
		       "cannot be processed.\n",
		       x->nread, x->nsyntax, x->nfailed);
#ifdef HAVE_LIBEDIT
	if (rd.edit && history[0] != '\0')
		(void)write_history(history);
	free(rd.eline);
#endif
	(void)history;
	free(cmd.p);
	free(rd.line);
	if (rd.in != stdin)
		fclose(rd.in);
	qsg_disconnect(x->conn);
	x->conn = NULL;
	if (x->fatal)
		return 1;
	return x->nsyntax + x->nfailed > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * qsgadm status
 * ------------------------------------------------------------------------ */

static const char *const status_cols[] = {"QMNAME",  "RAFTID", "ROLE",	 "TERM",  "COMMIT",
					  "APPLIED", "LAG",    "INSYNC", "VOTER", "LEASE"};
#define N_STATUS_COLS (sizeof status_cols / sizeof status_cols[0])

static int cmd_status(struct ctx *x)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	struct reply r = {0};
	qsg_conn *c = NULL;
	int rc = qsg_connect(x->conn_list, "qsgadm", &c, errmsg);
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgadm: cannot connect: %s (%d): %s\n", qsg_reason_name(rc), rc,
			errmsg[0] ? errmsg : qsg_reason_text(rc));
		return 2;
	}
	rc = do_admin(c, "DISPLAY QMSTATUS TYPE(RAFT)", &r);
	qsg_disconnect(c);
	const struct robj *sum = summary_of(&r);
	struct strbuf *b = &x->line;
	sb_reset(b);
	if (x->json) {
		sb_printf(b, "{\"rc\": %d, \"reason\": ", rc);
		sb_json_str(b, qsg_reason_name(rc));
		sb_adds(b, ", \"text\": ");
		sb_json_str(b, r.text);
		sb_adds(b, ", \"members\": [");
		size_t k = 0;
		for (size_t i = 0; i < r.nobj; i++) {
			if (&r.obj[i] == sum)
				continue;
			if (k++ > 0)
				sb_adds(b, ", ");
			obj_json(b, &r.obj[i]);
		}
		sb_adds(b, "], \"group\": ");
		if (sum != NULL)
			obj_json(b, sum);
		else
			sb_adds(b, "null");
		sb_adds(b, "}\n");
	} else if (rc != QSG_OK) {
		sb_printf(b, "%s\n", r.text);
	} else {
		size_t w[N_STATUS_COLS];
		for (size_t k = 0; k < N_STATUS_COLS; k++)
			w[k] = strlen(status_cols[k]);
		for (size_t i = 0; i < r.nobj; i++)
			for (size_t k = 0; k < N_STATUS_COLS && &r.obj[i] != sum; k++) {
				const char *v = obj_get(&r.obj[i], status_cols[k]);
				if (v != NULL && strlen(v) > w[k])
					w[k] = strlen(v);
			}
		w[N_STATUS_COLS - 1] = 0; /* no padding after the last column */
		for (size_t k = 0; k < N_STATUS_COLS; k++)
			sb_printf(b, "%-*s%s", (int)w[k], status_cols[k],
				  k + 1 < N_STATUS_COLS ? "  " : "\n");
		for (size_t i = 0; i < r.nobj; i++) {
			if (&r.obj[i] == sum)
				continue;
			for (size_t k = 0; k < N_STATUS_COLS; k++) {
				const char *v = obj_get(&r.obj[i], status_cols[k]);
				sb_printf(b, "%-*s%s", (int)w[k], v != NULL ? v : "",
					  k + 1 < N_STATUS_COLS ? "  " : "\n");
			}
		}
		if (sum != NULL) {
			const char *l = obj_get(sum, "LEADER");
			sb_printf(b, "group %s: leader %s, quorum %s in sync (majority %s): %s\n",
				  obj_get(sum, "QSGNAME") ? obj_get(sum, "QSGNAME") : "?",
				  l != NULL && l[0] != '\0' ? l : "(none)",
				  obj_get(sum, "QUORUM") ? obj_get(sum, "QUORUM") : "?",
				  obj_get(sum, "MAJORITY") ? obj_get(sum, "MAJORITY") : "?",
				  obj_get(sum, "HAVEQUORUM") &&
					  strcmp(obj_get(sum, "HAVEQUORUM"), "YES") == 0
				      ? "ok"
				      : "NO QUORUM");
		}
	}
	if (!b->oom)
		fputs(b->p, stdout);
	reply_clear(&r);
	return rc == QSG_OK && !b->oom ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: qsgadm [-c CONN] [-f FILE] [--json] [-t SECONDS]   run MQSC commands\n"
		   "       qsgadm status [-c CONN] [--json]                     group Raft status\n"
		   "       qsgadm check NAME [CHANNEL] [-c CONN] [-t SECONDS]   health check\n"
		   "  -c CONN      members to connect to, host:port[,...] (default: $QSG_CONN)\n"
		   "  -f FILE      read MQSC commands from FILE (default: stdin; a terminal gets\n"
		   "               line editing and history)\n"
		   "  --json       one JSON object per reply\n"
		   "  -t SECONDS   give up on a member after SECONDS (checks and CMDSCOPE: 5)\n"
		   "  -u USER      authenticate as USER (default: $QSG_USER); the password from\n"
		   "               $QSG_PASSWORD, --password-file FILE (mode 0600) or a prompt\n"
		   "               on the terminal, never from the command line\n"
		   "  --hash-password  print the hash of the password read from stdin, for\n"
		   "               [security] admin_password_hash\n"
		   "  checks: ping, running, quorum, quorum-critical, listeners, channels [NAME]\n"
		   "exit status: 0 success, 1 a command or check failed, 2 could not connect or\n"
		   "bad usage (checks: 1 also when the member cannot be reached)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"conn", required_argument, NULL, 'c'},
	    {"file", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"user", required_argument, NULL, 'u'},
	    {"password-file", required_argument, NULL, 'P'},
	    {"hash-password", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *user = NULL, *password_file = NULL;
	bool hash_password = false;
	struct ctx x = {.member_timeout = 5.0};
	const char *file = NULL;
	bool timeout_given = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:f:jt:hu:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			user = optarg;
			break;
		case 'P':
			password_file = optarg;
			break;
		case 'H':
			hash_password = true;
			break;
		case 'c':
			x.conn_list = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'j':
			x.json = true;
			break;
		case 't': {
			char *end;
			double t = strtod(optarg, &end);
			if (*end != '\0' || !(t > 0 && t <= 86400)) {
				fprintf(stderr, "qsgadm: -t: seconds > 0 expected\n");
				return 2;
			}
			x.member_timeout = t;
			timeout_given = true;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (hash_password)
		return optind == argc ? qsgadm_hash_password() : (usage(stderr), 2);
	int crc = qsgadm_credentials(user, password_file);
	if (crc != 0)
		return crc;
	if (timeout_given) {
		char buf[32];
		snprintf(buf, sizeof buf, "%.3f", x.member_timeout);
		setenv("QSG_RECONNECT_TIMEOUT", buf, 1);
	}
	int rc;
	if (optind == argc) {
		rc = run_mqsc(&x, file);
	} else if (strcmp(argv[optind], "status") == 0 && optind + 1 == argc && file == NULL) {
		rc = cmd_status(&x);
	} else if (strcmp(argv[optind], "check") == 0 && optind + 2 <= argc && optind + 3 >= argc &&
		   file == NULL) {
		rc = cmd_check(&x, argv[optind + 1], optind + 2 < argc ? argv[optind + 2] : NULL);
	} else {
		usage(stderr);
		rc = 2;
	}
	free(x.line.p);
	return rc;
}
