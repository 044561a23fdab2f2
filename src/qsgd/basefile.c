/* Base files of delta snapshots (basefile.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basefile.h"
#include "common/crc32c.h"

static const char magic[8] = {'Q', 'S', 'G', 'B', 'A', 'S', 'E', '1'};

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void basefile_path(char *path, size_t size, const char *dir, uint64_t index)
{
	snprintf(path, size, "%s/base-%020" PRIu64 ".qsb", dir, index);
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *c = p;
	while (len > 0) {
		ssize_t n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

int basefile_write(const char *dir, uint64_t index, const void *payload, size_t len,
		   struct fsm_baseref *ref, char *errmsg)
{
	char path[4096], tmp[4200];
	basefile_path(path, sizeof path, dir, index);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	uint64_t nblocks = (len + BASEFILE_BLOCK - 1) / BASEFILE_BLOCK;
	size_t tlen = (size_t)nblocks * 4 + 4;
	uint8_t hdr[BASEFILE_HDR];
	uint8_t *trl = malloc(tlen);
	if (trl == NULL)
		return qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "base file: out of memory");
	memcpy(hdr, magic, 8);
	put32(hdr + 8, 1);
	put32(hdr + 12, BASEFILE_BLOCK);
	put64(hdr + 16, index);
	put64(hdr + 24, len);
	put32(hdr + 32, (uint32_t)nblocks);
	const uint8_t *p = payload;
	for (uint64_t i = 0; i < nblocks; i++) {
		size_t off = (size_t)i * BASEFILE_BLOCK;
		size_t n = len - off < BASEFILE_BLOCK ? len - off : BASEFILE_BLOCK;
		put32(trl + 4 * i, qsg_crc32c(0, p + off, n));
	}
	uint32_t crc = qsg_crc32c(0, hdr, sizeof hdr);
	crc = qsg_crc32c(crc, trl, tlen - 4);
	/* The blocks are covered by their CRCs, which this one covers. */
	put32(trl + tlen - 4, crc);
	int rc = QSG_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: %s", tmp, strerror(errno));
	} else {
		if (write_all(fd, hdr, sizeof hdr) != 0 || write_all(fd, payload, len) != 0 ||
		    write_all(fd, trl, tlen) != 0 || fdatasync(fd) != 0)
			rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: write: %s", tmp,
				      strerror(errno));
		if (close(fd) != 0 && rc == QSG_OK)
			rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: close: %s", tmp,
				      strerror(errno));
		if (rc == QSG_OK && rename(tmp, path) != 0)
			rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: rename: %s", path,
				      strerror(errno));
		if (rc != QSG_OK)
			(void)unlink(tmp);
	}
	if (rc == QSG_OK) {
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0)
			rc = qsg_errf(errmsg, QSG_RC_IO, "base file: fsync of %s: %s", dir,
				      strerror(errno));
		if (dfd >= 0)
			close(dfd);
	}
	free(trl);
	if (rc == QSG_OK) {
		ref->index = index;
		ref->size = sizeof hdr + len + tlen;
		ref->crc = crc;
	}
	return rc;
}

int basefile_check(const void *file, size_t flen, const struct fsm_baseref *ref,
		   const void **payload, size_t *len, char *errmsg)
{
	const uint8_t *f = file;
	if (flen != ref->size || flen < BASEFILE_HDR + 4)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"base %" PRIu64 ": %zu bytes, %" PRIu64 " expected", ref->index,
				flen, ref->size);
	uint64_t plen = get64(f + 24);
	uint32_t nblocks = get32(f + 32);
	if (memcmp(f, magic, 8) != 0 || get32(f + 8) != 1 || get32(f + 12) != BASEFILE_BLOCK ||
	    get64(f + 16) != ref->index || plen > flen ||
	    nblocks != (plen + BASEFILE_BLOCK - 1) / BASEFILE_BLOCK ||
	    (uint64_t)BASEFILE_HDR + plen + 4ull * nblocks + 4 != flen)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME, "base %" PRIu64 ": bad header",
				ref->index);
	const uint8_t *p = f + BASEFILE_HDR;
	const uint8_t *trl = p + plen;
	uint32_t crc = qsg_crc32c(0, f, BASEFILE_HDR);
	crc = qsg_crc32c(crc, trl, 4ull * nblocks);
	if (crc != get32(trl + 4ull * nblocks) || crc != ref->crc)
		return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
				"base %" PRIu64 ": checksum %08x, %08x expected", ref->index, crc,
				ref->crc);
	for (uint32_t i = 0; i < nblocks; i++) {
		size_t off = (size_t)i * BASEFILE_BLOCK;
		size_t n = plen - off < BASEFILE_BLOCK ? (size_t)plen - off : BASEFILE_BLOCK;
		if (qsg_crc32c(0, p + off, n) != get32(trl + 4 * i))
			return qsg_errf(errmsg, QSG_RC_BAD_FRAME,
					"base %" PRIu64 ": block %u corrupt", ref->index, i);
	}
	*payload = p;
	*len = (size_t)plen;
	return QSG_OK;
}

int basefile_read(const char *dir, const struct fsm_baseref *ref, void **file, const void **payload,
		  size_t *len, char *errmsg)
{
	char path[4096];
	basefile_path(path, sizeof path, dir, ref->index);
	*file = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return qsg_errf(errmsg, errno == ENOENT ? QSG_RC_UNKNOWN_OBJECT : QSG_RC_IO,
				"base file %s: %s", path, strerror(errno));
	struct stat st;
	uint8_t *buf = NULL;
	int rc = QSG_OK;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != ref->size) {
		rc = qsg_errf(errmsg, QSG_RC_BAD_FRAME,
			      "base file %s: %lld bytes, %" PRIu64 " expected", path,
			      (long long)st.st_size, ref->size);
	} else if ((buf = malloc(ref->size > 0 ? (size_t)ref->size : 1)) == NULL) {
		rc = qsg_errf(errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "base file: out of memory");
	} else {
		size_t got = 0;
		while (got < ref->size) {
			ssize_t n = read(fd, buf + got, (size_t)ref->size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = qsg_errf(errmsg, QSG_RC_IO, "base file %s: read: %s", path,
					      n == 0 ? "short" : strerror(errno));
				break;
			}
			got += (size_t)n;
		}
	}
	close(fd);
	if (rc == QSG_OK)
		rc = basefile_check(buf, (size_t)ref->size, ref, payload, len, errmsg);
	if (rc != QSG_OK) {
		free(buf);
		return rc;
	}
	*file = buf;
	return QSG_OK;
}

void basefile_prune(const char *dir, uint64_t keep1, uint64_t keep2)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned long long idx;
		char tail[8];
		if (sscanf(e->d_name, "base-%20llu.qs%1s", &idx, tail) != 2 ||
		    strncmp(e->d_name, "base-", 5) != 0)
			continue;
		bool tmp = strstr(e->d_name, ".tmp") != NULL;
		if (!tmp && (idx == keep1 || idx == keep2))
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		(void)unlink(path);
	}
	closedir(d);
}
