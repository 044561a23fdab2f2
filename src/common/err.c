#include "qsg_err.h"

#include <stdarg.h>
#include <stdio.h>

struct rc_desc {
	int rc;
	const char *name;
	const char *text;
};

static const struct rc_desc rc_table[] = {
    {QSG_OK, "QSG_OK", "completed successfully"},
    {QSG_RC_BACKED_OUT, "QSG_RC_BACKED_OUT", "the unit of work was backed out"},
    {QSG_RC_CONNECTION_BROKEN, "QSG_RC_CONNECTION_BROKEN",
     "the connection to the group member was lost"},
    {QSG_RC_DATA_LENGTH_ERROR, "QSG_RC_DATA_LENGTH_ERROR", "a length field is out of range"},
    {QSG_RC_EXPIRY_ERROR, "QSG_RC_EXPIRY_ERROR", "the expiry value is not valid"},
    {QSG_RC_GET_INHIBITED, "QSG_RC_GET_INHIBITED", "gets are inhibited for the queue"},
    {QSG_RC_SYNCPOINT_LIMIT, "QSG_RC_SYNCPOINT_LIMIT", "too many messages in one unit of work"},
    {QSG_RC_MSG_TOO_BIG, "QSG_RC_MSG_TOO_BIG", "the message is longer than the queue's MAXMSGL"},
    {QSG_RC_NO_MSG_AVAILABLE, "QSG_RC_NO_MSG_AVAILABLE", "no matching message is available"},
    {QSG_RC_OBJECT_IN_USE, "QSG_RC_OBJECT_IN_USE", "the object is in use"},
    {QSG_RC_OPTIONS_ERROR, "QSG_RC_OPTIONS_ERROR", "the options are not valid"},
    {QSG_RC_PRIORITY_ERROR, "QSG_RC_PRIORITY_ERROR", "the priority must be 0 to 9"},
    {QSG_RC_PUT_INHIBITED, "QSG_RC_PUT_INHIBITED", "puts are inhibited for the queue"},
    {QSG_RC_Q_FULL, "QSG_RC_Q_FULL", "the queue is full (MAXDEPTH reached)"},
    {QSG_RC_Q_NOT_EMPTY, "QSG_RC_Q_NOT_EMPTY", "the queue is not empty"},
    {QSG_RC_NOT_OPEN_FOR_INPUT, "QSG_RC_NOT_OPEN_FOR_INPUT", "queue cannot be opened for input"},
    {QSG_RC_Q_MGR_NOT_AVAILABLE, "QSG_RC_Q_MGR_NOT_AVAILABLE",
     "no member of the group could be reached"},
    {QSG_RC_STORAGE_NOT_AVAILABLE, "QSG_RC_STORAGE_NOT_AVAILABLE", "out of memory"},
    {QSG_RC_UNKNOWN_ALIAS_BASE_Q, "QSG_RC_UNKNOWN_ALIAS_BASE_Q",
     "the alias queue's target is not a defined local or remote queue"},
    {QSG_RC_UNKNOWN_OBJECT, "QSG_RC_UNKNOWN_OBJECT", "the object is not defined"},
    {QSG_RC_UNKNOWN_REMOTE_Q_MGR, "QSG_RC_UNKNOWN_REMOTE_Q_MGR",
     "no route to the remote queue manager"},
    {QSG_RC_XMIT_Q_USAGE_ERROR, "QSG_RC_XMIT_Q_USAGE_ERROR", "transmission queue has wrong usage"},
    {QSG_RC_OBJECT_EXISTS, "QSG_RC_OBJECT_EXISTS", "the object already exists"},
    {QSG_RC_Q_MGR_STOPPING, "QSG_RC_Q_MGR_STOPPING", "the member is stopping"},
    {QSG_RC_UNEXPECTED_ERROR, "QSG_RC_UNEXPECTED_ERROR", "an unexpected internal error occurred"},
    {QSG_RC_FUNCTION_NOT_SUPPORTED, "QSG_RC_FUNCTION_NOT_SUPPORTED",
     "the function needs a higher command level than the group's (a member runs an older build, or "
     "has not yet reported its level after starting: retry)"},
    {QSG_RC_NOT_AUTHORIZED, "QSG_RC_NOT_AUTHORIZED",
     "not authorized: the user id and password, or the certificate, were not accepted"},
    {QSG_RC_SSL_INITIALIZATION_ERROR, "QSG_RC_SSL_INITIALIZATION_ERROR",
     "the TLS key, certificate, CA or options could not be used"},
    {QSG_RC_SSL_PEER_NAME_MISMATCH, "QSG_RC_SSL_PEER_NAME_MISMATCH",
     "the TLS peer's certificate does not name the identity expected"},
    {QSG_RC_SSL_CERTIFICATE_REVOKED, "QSG_RC_SSL_CERTIFICATE_REVOKED",
     "the TLS peer's certificate is revoked (listed in a CRL of [tls] crl)"},
    {QSG_RC_OUTCOME_UNKNOWN, "QSG_RC_OUTCOME_UNKNOWN",
     "leadership changed or the connection was lost: the operation may or may not have "
     "completed"},
    {QSG_RC_NOT_LEADER, "QSG_RC_NOT_LEADER", "this member is not the Raft leader"},
    {QSG_RC_NO_LEADER, "QSG_RC_NO_LEADER", "the group has no leader (no quorum); retry later"},
    {QSG_RC_BAD_FRAME, "QSG_RC_BAD_FRAME", "malformed or truncated frame"},
    {QSG_RC_BAD_VERSION, "QSG_RC_BAD_VERSION", "unsupported format version"},
    {QSG_RC_UNKNOWN_OP, "QSG_RC_UNKNOWN_OP", "unknown operation code"},
    {QSG_RC_FRAME_TOO_LARGE, "QSG_RC_FRAME_TOO_LARGE", "frame length over the limit"},
    {QSG_RC_SESSION_FENCED, "QSG_RC_SESSION_FENCED",
     "the session was re-attached from another connection"},
    {QSG_RC_SEQUENCE_GAP, "QSG_RC_SEQUENCE_GAP",
     "producer sequence number out of order; resend from the last acknowledged one"},
    {QSG_RC_MQSC_SYNTAX, "QSG_RC_MQSC_SYNTAX", "MQSC syntax error"},
    {QSG_RC_BAD_ATTR, "QSG_RC_BAD_ATTR", "invalid attribute or attribute value"},
    {QSG_RC_IO, "QSG_RC_IO", "input/output error"},
    {QSG_RC_MEMBER_FENCED, "QSG_RC_MEMBER_FENCED",
     "this member lost its lease and is not acting for the group"},
    {QSG_RC_TIMEOUT, "QSG_RC_TIMEOUT", "the operation timed out"},
    {QSG_RC_CONFIG, "QSG_RC_CONFIG", "invalid configuration"},
    {QSG_RC_INVALID, "QSG_RC_INVALID", "invalid argument"},
    {QSG_RC_NOT_ATTACHED, "QSG_RC_NOT_ATTACHED", "HELLO must be the first request"},
    {QSG_RC_BUSY, "QSG_RC_BUSY", "too many requests in flight"},
    {QSG_RC_CAS_FAILED, "QSG_RC_CAS_FAILED",
     "channel status changed meanwhile (compare-and-swap failed)"},
    {QSG_RC_CHANNEL_NOT_FOUND, "QSG_RC_CHANNEL_NOT_FOUND", "channel not defined"},
    {QSG_RC_CHANNEL_ACTIVE, "QSG_RC_CHANNEL_ACTIVE", "channel already active"},
    {QSG_RC_CHANNEL_STOPPED, "QSG_RC_CHANNEL_STOPPED", "channel is stopped"},
    {QSG_RC_XMITQ_IN_USE, "QSG_RC_XMITQ_IN_USE", "transmission queue in use by another channel"},
    {QSG_RC_BATCH_REJECTED, "QSG_RC_BATCH_REJECTED", "batch refused for some destinations"},
    {QSG_RC_CHANNEL_FENCED, "QSG_RC_CHANNEL_FENCED", "channel instance superseded by a newer one"},
    {QSG_RC_SEQ_MISMATCH, "QSG_RC_SEQ_MISMATCH", "message sequence numbers out of step"},
    {QSG_RC_CHINIT_NOT_RUNNING, "QSG_RC_CHINIT_NOT_RUNNING", "channel initiator not running"},
    {QSG_RC_CHANNEL_INDOUBT, "QSG_RC_CHANNEL_INDOUBT", "channel is in doubt"},
    {QSG_RC_Q_MGR_NAME_ERROR, "QSG_RC_Q_MGR_NAME_ERROR",
     "the partner is another queue manager than the channel expects"},
    {QSG_RC_REMOTE_ERROR, "QSG_RC_REMOTE_ERROR", "partner ended the channel with an error"},
    {QSG_RC_TLS_FAILED, "QSG_RC_TLS_FAILED", "the TLS handshake or record layer failed"},
    {QSG_RC_TLS_BUFFER_FULL, "QSG_RC_TLS_BUFFER_FULL",
     "TLS buffer at its limit; read or send the buffered data first"},
};

static const struct rc_desc *rc_find(int rc)
{
	for (size_t i = 0; i < sizeof rc_table / sizeof rc_table[0]; i++)
		if (rc_table[i].rc == rc)
			return &rc_table[i];
	return NULL;
}

const char *qsg_rc_name(int rc)
{
	const struct rc_desc *d = rc_find(rc);
	return d ? d->name : "QSG_RC_UNKNOWN";
}

const char *qsg_rc_text(int rc)
{
	const struct rc_desc *d = rc_find(rc);
	return d ? d->text : "unknown reason code";
}

int qsg_rc_valid(int rc)
{
	return rc_find(rc) != NULL;
}

int qsg_errf(char *errmsg, int rc, const char *fmt, ...)
{
	if (errmsg != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg, QSG_ERRMSG_SIZE, fmt, ap);
		va_end(ap);
	}
	return rc;
}
