#include "sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qsg_err.h"

int sdnotify_init(struct sdnotify *n, const char *notify_socket, const char *watchdog_usec,
		  const char *watchdog_pid, long pid, char *errmsg)
{
	memset(n, 0, sizeof *n);
	n->fd = -1;
	if (watchdog_usec != NULL && watchdog_usec[0] != '\0') {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(watchdog_usec, &end, 10);
		bool for_us = true;
		if (watchdog_pid != NULL && watchdog_pid[0] != '\0')
			for_us = strtol(watchdog_pid, NULL, 10) == pid;
		if (errno == 0 && *end == '\0' && v > 0 && for_us)
			n->watchdog_usec = v;
	}
	if (notify_socket == NULL || notify_socket[0] == '\0') {
		n->watchdog_usec = 0; /* nobody to tell */
		return QSG_OK;
	}
	size_t len = strlen(notify_socket);
	if ((notify_socket[0] != '/' && notify_socket[0] != '@') ||
	    len >= sizeof n->addr.sun_path) {
		n->watchdog_usec = 0;
		return qsg_errf(errmsg, QSG_RC_CONFIG, "NOTIFY_SOCKET '%s' is not a usable name",
				notify_socket);
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, notify_socket, len);
	if (notify_socket[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract namespace */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0) {
		n->watchdog_usec = 0;
		return qsg_errf(errmsg, QSG_RC_CONFIG, "NOTIFY_SOCKET: socket: %s",
				strerror(errno));
	}
	return QSG_OK;
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

bool sdnotify_enabled(const struct sdnotify *n)
{
	return n->fd >= 0;
}

int sdnotify_send(struct sdnotify *n, const char *msg)
{
	if (n->fd < 0)
		return QSG_OK;
	ssize_t r;
	do {
		r = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
			   n->addr_len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? QSG_RC_IO : QSG_OK;
}
