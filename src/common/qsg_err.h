/* qsg reason codes: one closed set used by every module, on the wire and in
 * return values. Where IBM MQ has a reason code for the same condition we use
 * its number (MQRC_*), so operators recognise them; qsg's own codes are 6001+.
 *
 * Convention: functions return int (QSG_OK or a code below) and, where they
 * take `char *errmsg`, write a human-readable message of at most
 * QSG_ERRMSG_SIZE bytes (NUL-terminated) into it. */
#ifndef QSG_QSG_ERR_H
#define QSG_QSG_ERR_H

#include <stddef.h>

#define QSG_ERRMSG_SIZE 256

enum qsg_rc {
	QSG_OK = 0,

	/* IBM MQ compatible reason codes. */
	QSG_RC_BACKED_OUT = 2003, /* unit of work was backed out */
	QSG_RC_CONNECTION_BROKEN = 2009, /* connection to the member lost */
	QSG_RC_DATA_LENGTH_ERROR = 2010, /* length field out of range */
	QSG_RC_EXPIRY_ERROR = 2013, /* bad expiry value */
	QSG_RC_GET_INHIBITED = 2016, /* GET(DISABLED) on the queue */
	QSG_RC_SYNCPOINT_LIMIT = 2024, /* too many messages in one uow */
	QSG_RC_MSG_TOO_BIG = 2030, /* message longer than MAXMSGL */
	QSG_RC_NO_MSG_AVAILABLE = 2033, /* no matching message */
	QSG_RC_NOT_AUTHORIZED = 2035, /* authentication failed (or, later, no authority) */
	QSG_RC_OBJECT_IN_USE = 2042, /* queue is open / has uow activity */
	QSG_RC_OPTIONS_ERROR = 2046, /* invalid option combination */
	QSG_RC_PRIORITY_ERROR = 2050, /* priority not 0..9 */
	QSG_RC_PUT_INHIBITED = 2051, /* PUT(DISABLED) on the queue */
	QSG_RC_Q_FULL = 2053, /* MAXDEPTH reached */
	QSG_RC_Q_MGR_NAME_ERROR = 2058, /* partner is another queue manager than expected */
	QSG_RC_Q_NOT_EMPTY = 2055, /* delete of a non-empty queue */
	QSG_RC_NOT_OPEN_FOR_INPUT = 2037, /* GET from a remote queue */
	QSG_RC_Q_MGR_NOT_AVAILABLE = 2059, /* no member reachable */
	QSG_RC_STORAGE_NOT_AVAILABLE = 2071, /* out of memory */
	QSG_RC_UNKNOWN_ALIAS_BASE_Q = 2082, /* alias target missing or not a local/remote queue */
	QSG_RC_UNKNOWN_OBJECT = 2085, /* no such queue */
	QSG_RC_UNKNOWN_REMOTE_Q_MGR = 2087, /* no route to the remote queue manager */
	QSG_RC_XMIT_Q_USAGE_ERROR = 2091, /* transmission queue is not USAGE(XMITQ) */
	QSG_RC_OBJECT_EXISTS = 2100, /* DEFINE of an existing object */
	QSG_RC_Q_MGR_STOPPING = 2162, /* member shutting down */
	QSG_RC_UNEXPECTED_ERROR = 2195, /* internal error */
	QSG_RC_FUNCTION_NOT_SUPPORTED = 2298, /* needs a higher command level than the group's */
	QSG_RC_SSL_INITIALIZATION_ERROR = 2393, /* TLS key, certificate, CA or options unusable */
	QSG_RC_SSL_PEER_NAME_MISMATCH = 2398, /* TLS peer is not the identity expected */
	QSG_RC_SSL_CERTIFICATE_REVOKED = 2401, /* TLS peer's certificate listed in a CRL */

	/* qsg's own reason codes. */
	QSG_RC_OUTCOME_UNKNOWN = 6001, /* may or may not have committed */
	QSG_RC_NOT_LEADER = 6002, /* this member is not the Raft leader */
	QSG_RC_NO_LEADER = 6003, /* the group has no leader (no quorum) */
	QSG_RC_BAD_FRAME = 6004, /* malformed or truncated frame/entry */
	QSG_RC_BAD_VERSION = 6005, /* unsupported format version */
	QSG_RC_UNKNOWN_OP = 6006, /* unknown operation code */
	QSG_RC_FRAME_TOO_LARGE = 6007, /* frame length over the limit */
	QSG_RC_SESSION_FENCED = 6008, /* session re-attached elsewhere */
	QSG_RC_SEQUENCE_GAP = 6009, /* producer sequence out of order */
	QSG_RC_MQSC_SYNTAX = 6010, /* MQSC command syntax error */
	QSG_RC_BAD_ATTR = 6011, /* invalid attribute or value */
	QSG_RC_IO = 6012, /* I/O error */
	QSG_RC_MEMBER_FENCED = 6013, /* member lost its lease */
	QSG_RC_TIMEOUT = 6014, /* operation timed out */
	QSG_RC_CONFIG = 6015, /* bad configuration */
	QSG_RC_INVALID = 6016, /* invalid argument */
	QSG_RC_NOT_ATTACHED = 6017, /* operation before HELLO */
	QSG_RC_BUSY = 6018, /* too many requests in flight */
	QSG_RC_CAS_FAILED = 6019, /* channel status before-image did not match */
	QSG_RC_CHANNEL_NOT_FOUND = 6020, /* no such channel definition */
	QSG_RC_CHANNEL_ACTIVE = 6021, /* channel already running somewhere */
	QSG_RC_CHANNEL_STOPPED = 6022, /* channel is stopped */
	QSG_RC_XMITQ_IN_USE = 6023, /* xmitq locked by another channel */
	QSG_RC_BATCH_REJECTED = 6024, /* some destinations refused (black list) */
	QSG_RC_CHANNEL_FENCED = 6025, /* instance epoch older than newest seen */
	QSG_RC_SEQ_MISMATCH = 6026, /* channel sequence numbers disagree */
	QSG_RC_CHINIT_NOT_RUNNING = 6027, /* channel initiator stopped */
	QSG_RC_CHANNEL_INDOUBT = 6028, /* channel has an in-doubt batch */
	QSG_RC_REMOTE_ERROR = 6029, /* the partner ended the channel with an error */
	QSG_RC_TLS_FAILED = 6030, /* TLS handshake or record layer failed */
	QSG_RC_TLS_BUFFER_FULL = 6031, /* TLS buffer at its limit: drain it first */
};

/* Short symbolic name ("QSG_RC_Q_FULL") and one-line text for a code.
 * Unknown codes yield "QSG_RC_UNKNOWN" / "unknown reason code". */
const char *qsg_rc_name(int rc);
const char *qsg_rc_text(int rc);

/* True for codes that the closed set defines. */
int qsg_rc_valid(int rc);

/* Format errmsg (may be NULL) with printf-style text and return rc. */
int qsg_errf(char *errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
