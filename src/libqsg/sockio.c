/* libqsg: raw socket output with a deadline (client_int.h), shared by the
 * plaintext path (conn.c) and the TLS path (tlsio.c). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "client_int.h"

int qsgi_fd_send_all(int fd, const uint8_t *p, size_t n, int64_t deadline, char *err)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int r = poll(&pfd, 1, qsgi_left_ms(deadline));
			if (r == 0)
				return qsg_errf(err, QSG_RC_CONNECTION_BROKEN,
						"timed out sending to the member");
			if (r < 0 && errno != EINTR)
				return qsg_errf(err, QSG_RC_CONNECTION_BROKEN, "poll: %s",
						strerror(errno));
			continue;
		}
		return qsg_errf(err, QSG_RC_CONNECTION_BROKEN, "send: %s",
				k < 0 ? strerror(errno) : "no progress");
	}
	return QSG_OK;
}
