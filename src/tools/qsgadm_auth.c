/* qsgadm: credentials and password hashes (docs/security.md
 * "Authentication"). -u USER sets QSG_USER for libqsg; the password comes
 * from QSG_PASSWORD, --password-file (QSG_PASSWORD_FILE: mode 0600 or
 * stricter, owned by the user, checked by libqsg) or a prompt on the
 * terminal without echo; never from a command-line value. --hash-password
 * prints the text form of a PBKDF2 hash of the password read from stdin,
 * for [security] admin_password_hash. Echoed commands and the line-editing
 * history show PASSWORD(...) as PASSWORD(********). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "common/pwhash.h"
#include "qsgadm.h"

/* Read one line from fd without echo when it is a terminal. */
static int read_secret(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(fd) && tcgetattr(fd, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (prompt != NULL && write(fd, prompt, strlen(prompt)) < 0)
			return -1;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	size_t n = 0;
	int rc = 0;
	for (;;) {
		char c;
		ssize_t got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n')
			break;
		if (n + 1 >= size) {
			rc = -1;
			break;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (tty) {
		tcsetattr(fd, TCSAFLUSH, &old);
		ssize_t w = write(fd, "\n", 1); /* the newline not echoed */
		(void)w;
	}
	return rc;
}

int qsgadm_credentials(const char *user, const char *password_file)
{
	if (user != NULL)
		setenv("QSG_USER", user, 1);
	if (password_file != NULL) { /* the flag wins over the environment */
		unsetenv("QSG_PASSWORD");
		setenv("QSG_PASSWORD_FILE", password_file, 1);
		return 0;
	}
	const char *u = getenv("QSG_USER");
	if (u == NULL || u[0] == '\0')
		return 0;
	if ((getenv("QSG_PASSWORD") != NULL && getenv("QSG_PASSWORD")[0] != '\0') ||
	    (getenv("QSG_PASSWORD_FILE") != NULL && getenv("QSG_PASSWORD_FILE")[0] != '\0'))
		return 0;
	/* A prompt on the terminal, if there is one. */
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no terminal: no password (a certificate may do) */
	char pw[PWHASH_PASSWORD_MAX + 2];
	char prompt[128];
	snprintf(prompt, sizeof prompt, "Password for %s: ", u);
	int rc = read_secret(fd, prompt, pw, sizeof pw);
	close(fd);
	if (rc != 0) {
		explicit_bzero(pw, sizeof pw);
		fprintf(stderr, "qsgadm: password longer than %d bytes\n", PWHASH_PASSWORD_MAX);
		return 2;
	}
	setenv("QSG_PASSWORD", pw, 1); /* this process's environment only */
	explicit_bzero(pw, sizeof pw);
	return 0;
}

int qsgadm_hash_password(void)
{
	char pw[PWHASH_PASSWORD_MAX + 2];
	char text[PWHASH_TEXT_MAX];
	char err[QSG_ERRMSG_SIZE] = "";
	struct pwhash h;
	if (read_secret(STDIN_FILENO, isatty(STDIN_FILENO) ? "Password: " : NULL, pw, sizeof pw) !=
	    0) {
		explicit_bzero(pw, sizeof pw);
		fprintf(stderr, "qsgadm: password longer than %d bytes\n", PWHASH_PASSWORD_MAX);
		return 2;
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "qsgadm: empty password\n");
		return 2;
	}
	int rc = pwhash_make(pw, strlen(pw), PWHASH_ITER_DEFAULT, &h, err);
	explicit_bzero(pw, sizeof pw);
	if (rc != QSG_OK) {
		fprintf(stderr, "qsgadm: %s\n", err);
		return 2;
	}
	pwhash_format(&h, text);
	printf("%s\n", text);
	return 0;
}

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == ')' || c == '\r' || c == '\n';
}

char *qsgadm_redact(const char *cmd)
{
	size_t n = strlen(cmd);
	char *out = malloc(n + 16 * 8 + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	bool quoted = false;
	int done = 0;
	for (size_t i = 0; i < n;) {
		char c = cmd[i];
		if (c == '\'') {
			quoted = !quoted;
			out[o++] = cmd[i++];
			continue;
		}
		if (!quoted && done < 16 && (i == 0 || is_sep(cmd[i - 1])) &&
		    strncasecmp(cmd + i, "PASSWORD", 8) == 0) {
			size_t j = i + 8;
			while (j < n && (cmd[j] == ' ' || cmd[j] == '\t'))
				j++;
			if (j < n && cmd[j] == '(') {
				/* Skip the value up to its ')' ('' inside quotes). */
				size_t k = j + 1;
				bool q = false;
				while (k < n) {
					if (cmd[k] == '\'') {
						if (q && k + 1 < n && cmd[k + 1] == '\'') {
							k += 2;
							continue;
						}
						q = !q;
					} else if (cmd[k] == ')' && !q) {
						break;
					}
					k++;
				}
				memcpy(out + o, "PASSWORD(********)", 18);
				o += 18;
				i = k < n ? k + 1 : n;
				done++;
				continue;
			}
		}
		out[o++] = cmd[i++];
	}
	out[o] = '\0';
	return out;
}
