/* Credentials of a connection (docs/client.md "Credentials"): given to
 * qsg_connect_as, or QSG_USER with QSG_PASSWORD or QSG_PASSWORD_FILE from
 * the environment. They travel in HELLO (inside TLS when QSG_TLS_* is set)
 * on every (re)connection and are wiped at qsg_disconnect. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_int.h"

int qsg_read_password_file(const char *path, char *buf, size_t size, char *errmsg)
{
	struct stat st;
	if (size == 0)
		return qsg_errf(errmsg, QSG_RC_INVALID, "no room for the password");
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return qsg_errf(errmsg, QSG_RC_INVALID, "password file %s: %s", path,
				strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return qsg_errf(errmsg, QSG_RC_INVALID, "password file %s is not a regular file",
				path);
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"password file %s must be owned by this user with mode 0600 or "
				"stricter (chmod 600 %s)",
				path, path);
	}
	size_t n = 0;
	for (;;) {
		ssize_t got = read(fd, buf + n, size - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(buf, size);
			return qsg_errf(errmsg, QSG_RC_INVALID, "password file %s: %s", path,
					strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == size - 1) {
			char extra;
			if (read(fd, &extra, 1) > 0 && !(extra == '\n' && n > 0)) {
				close(fd);
				explicit_bzero(buf, size);
				return qsg_errf(errmsg, QSG_RC_INVALID,
						"password file %s: longer than %zu bytes", path,
						size - 1);
			}
			break;
		}
	}
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (memchr(buf, '\0', n) != NULL) {
		explicit_bzero(buf, size);
		return qsg_errf(errmsg, QSG_RC_INVALID, "password file %s holds a NUL byte", path);
	}
	return QSG_OK;
}

int qsgi_cred_setup(qsg_conn *c, const char *user, const char *password, char *errmsg)
{
	const char *pwfile = NULL;
	if (user == NULL) {
		user = getenv("QSG_USER");
		password = getenv("QSG_PASSWORD");
		pwfile = getenv("QSG_PASSWORD_FILE");
		if (password != NULL && password[0] == '\0')
			password = NULL;
		if (pwfile != NULL && pwfile[0] == '\0')
			pwfile = NULL;
	}
	if (user == NULL || user[0] == '\0') {
		if (password != NULL || pwfile != NULL)
			return qsg_errf(errmsg, QSG_RC_INVALID,
					"a password without a user: set QSG_USER too");
		return QSG_OK; /* no credentials */
	}
	if (strlen(user) > PROTO_MAX_USER)
		return qsg_errf(errmsg, QSG_RC_INVALID, "user longer than %d characters",
				PROTO_MAX_USER);
	snprintf(c->user, sizeof c->user, "%s", user);
	if (password != NULL && pwfile != NULL)
		return qsg_errf(errmsg, QSG_RC_INVALID,
				"QSG_PASSWORD and QSG_PASSWORD_FILE are both set: choose one");
	if (pwfile != NULL)
		return qsg_read_password_file(pwfile, c->password, sizeof c->password, errmsg);
	if (password == NULL)
		return QSG_OK; /* a user without a password: the server refuses it */
	if (strlen(password) > PROTO_MAX_PASSWORD)
		return qsg_errf(errmsg, QSG_RC_INVALID, "password longer than %d bytes",
				PROTO_MAX_PASSWORD);
	snprintf(c->password, sizeof c->password, "%s", password);
	return QSG_OK;
}

void qsgi_cred_wipe(qsg_conn *c)
{
	explicit_bzero(c->password, sizeof c->password);
}
