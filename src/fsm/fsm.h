/* The replicated state machine of one structure (one Raft group holding a set
 * of shared queues): queue definitions, queue contents, sessions with their
 * units of work, and the group's members with their leases.
 *
 * Pure: fsm_apply() depends only on the state and the entry. Time comes from
 * the entry header (the leader's clock). No I/O, clocks or randomness here.
 *
 * Log entry format (version 1), all little-endian:
 *   u8  version (=1)   u8 type (=1 batch)   u16 reserved (=0)
 *   i64 time_ms        leader's wall clock when it built the entry
 *   u32 count          number of commands (1..FSM_MAX_BATCH)
 *   count x { u32 len; u8[len] command }
 * A command starts with u8 op and u8 command-format version (FSM_CMD_VERSION);
 * its body is defined in cmd.c and docs/protocol.md. An entry that fails to decode is rejected
 * as a whole, before any command in it is applied; a command that decodes but is refused (unknown
 * queue, queue full, stale session ...) gets a reason code in its result and changes nothing.
 *
 * Result format, one per command in entry order, appended by fsm_apply to the
 * caller's wbuf: u32 len; u8[len] result. Each result begins with
 * u32 rc; op-specific fields follow only when rc == QSG_OK (see
 * fsm_result_decode). */
#ifndef QSG_FSM_H
#define QSG_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/codec.h"
#include "../common/msg.h" /* struct fsm_msg, names, message flags */
#include "../common/qsg_err.h"
#include "fsm_attrs.h"

#define FSM_ENTRY_VERSION 1
/* 5: channel partner, SYNCQ rinst; 6: compact messages, channel retries;
 * 7: the destination black list of sender status entries; 8: the parked
 * messages of listed destinations; 9: the user table (fsm_user.c); 10: the
 * authority records (fsm_authrec.c); 11: the channel authentication rules
 * (fsm_chlauth.c) */
#define FSM_SNAPSHOT_VERSION 11
/* 12: a delta snapshot, the change since a member-local base (a full
 * snapshot of format 8 to FSM_SNAPSHOT_VERSION kept in a file):
 * fsm_snapshot_delta, fsm_restore_decode_delta (docs/storage.md "A base and
 * deltas"). */
#define FSM_SNAPSHOT_DELTA 12
#define FSM_MAX_BATCH 65536
#define FSM_ADDR_MAX 128 /* host:port */
#define FSM_DESCR_MAX 64

enum fsm_op {
	/* Object definitions. */
	FSM_OP_QDEFINE = 1, /* attrs (+FSM_F_REPLACE) */
	FSM_OP_QALTER = 2, /* attrs with attrs.set mask */
	FSM_OP_QDELETE = 3, /* queue (+FSM_F_PURGE) */
	FSM_OP_QCLEAR = 4, /* queue: remove committed messages */
	FSM_OP_QMGR_ALTER = 5, /* ch.qm (group queue-manager attributes) */
	FSM_OP_CHDEFINE = 6, /* ch.attrs (+FSM_F_REPLACE) */
	FSM_OP_CHALTER = 7, /* ch.attrs with ch.attrs.set mask */
	FSM_OP_CHDELETE = 8, /* ch.name */
	/* Sessions (one per client connection; fencing by epoch). */
	FSM_OP_ATTACH = 10, /* client_id, member_id -> epoch, put_seq, uows_done */
	FSM_OP_DETACH = 11, /* client_id, epoch: backs out its uow */
	FSM_OP_OPEN = 12, /* client_id, epoch, queue */
	FSM_OP_CLOSE = 13, /* client_id, epoch, queue */
	/* Messages. */
	FSM_OP_PUT = 20, /* client_id, epoch, seq, queue, flags, msg */
	FSM_OP_GET = 21, /* client_id, epoch, queue, flags, msg.msgid/correlid */
	FSM_OP_BROWSE = 22, /* queue, flags, cursor -> msg (no state change) */
	FSM_OP_COMMIT = 23, /* client_id, epoch, seq = uow number being committed */
	FSM_OP_BACKOUT = 24, /* client_id, epoch */
	/* Large messages (docs/storage.md, "Large messages"). */
	FSM_OP_PUT_CHUNK = 25, /* as PUT, plus msg.seqno (0 for part 0), part,
				* total (body length of the whole message);
				* body = this part's bytes */
	FSM_OP_GET_DONE = 26, /* client_id, epoch, msg.seqno: the transfer of a
			       * chunked message got outside syncpoint is
			       * complete: consume it */
	/* Members and leases. */
	FSM_OP_MEMBER_JOIN = 40, /* member_id, name, addresses */
	FSM_OP_LEASE_RENEW = 41, /* member_id, stats */
	FSM_OP_MEMBER_FAIL = 42, /* member_id, seq = lease_expiry the leader saw */
	FSM_OP_EXPIRE = 43, /* housekeeping: drop detached sessions older
			     * than seq ms, remove expired messages */
	FSM_OP_CHINIT_STATE = 44, /* ch.member_id, ch.chinit */
	FSM_OP_MEMBER_REMOVE = 45, /* member_id: forget a FAILED member (no
				    * longer in the Raft configuration); its
				    * sessions are detached, its QMGR and COPY
				    * objects stay */
	FSM_OP_MEMBER_FAIL_BOUNDED = 46, /* as MEMBER_FAIL, but the backout of
					  * its sessions' units of work is
					  * bounded (FSM_BACKOUT_BUDGET); the
					  * rest is pending */
	FSM_OP_BACKOUT_PENDING = 47, /* seq = budget (0 = FSM_BACKOUT_BUDGET):
				      * continue pending backouts */
	FSM_OP_EXPIRE_BOUNDED = 48, /* as EXPIRE, but at most
				     * FSM_EXPIRE_BUDGET messages removed
				     * (fsm_expire_more: some still due) */
	FSM_OP_MEMBER_JOIN_BOUNDED = 49, /* as MEMBER_JOIN, but the backout of
					  * the member's earlier sessions'
					  * units of work is bounded
					  * (FSM_BACKOUT_BUDGET); the rest is
					  * pending */
	/* Channels (fsm_chan.h). */
	FSM_OP_CHST_CAS = 50, /* ch.name, ch.rqmname, ch.chltype, before, after,
			       * conname, reason -> current image (always) */
	FSM_OP_CH_GETBATCH = 51, /* ch.name, member_id, epoch, max_msgs, max_bytes */
	FSM_OP_CH_SETTLE = 52, /* ch.name, member_id, epoch, seq (upto), flags,
				* count + list of dispositions */
	FSM_OP_CH_RESET = 53, /* ch.name, seq (next sequence number) */
	FSM_OP_CH_RECV_START = 54, /* ch.name, rqmname, member_id, epoch, flags,
				    * seq (reset), conname */
	FSM_OP_CH_RECV_BATCH = 55, /* ch.name, rqmname, local_qmgr, member_id,
				    * epoch, seq (first), last, luwid, count +
				    * list of messages */
	/* Members (continued). */
	FSM_OP_MEMBER_REMOVE_BOUNDED = 56, /* as MEMBER_REMOVE, but the backout
					    * is bounded; while a session of
					    * the member still has a backout
					    * pending, the member and its
					    * objects stay (QSG_OK) and the
					    * leader sends it again later */
	FSM_OP_MEMBER_LEVEL = 57, /* member_id, seq = the command level its
				   * build applies (fsm_group_cmdlevel); always
				   * alone in its entry */
	FSM_OP_MEMBER_REMOVE_QMGR = 58, /* as MEMBER_REMOVE_BOUNDED, and the
					 * member's private channels
					 * (QSGDISP(QMGR): definitions, status
					 * entries, their in-doubt messages)
					 * leave with its QMGR objects; command
					 * level 4 */
	/* Users (fsm_user.c, docs/security.md "Authentication"). */
	FSM_OP_USER_DEFINE = 60, /* user (+FSM_F_REPLACE): credential required */
	FSM_OP_USER_ALTER = 61, /* user with user.set: the fields to change */
	FSM_OP_USER_DELETE = 62, /* user.name */
	/* Authority records (fsm_authrec.c, docs/security.md "Authority
	 * records"). */
	FSM_OP_AUTHREC_SET = 63, /* authrec: key, auth = AUTHADD, rmv = AUTHRMV
				  * (the record is made when missing) */
	FSM_OP_AUTHREC_DELETE = 64, /* authrec: key */
	/* Channel authentication rules (fsm_chlauth.c, docs/security.md
	 * "Channel authentication (CHLAUTH)"). */
	FSM_OP_CHLAUTH_SET = 65, /* chlauth: action ADD/REPLACE/REMOVE/REMOVEALL */
	/* Sessions (continued). */
	FSM_OP_BACKOUT_UNCOUNTED = 66, /* client_id, epoch: as BACKOUT, but
					* BackoutCount is left alone (and so
					* no move to BOQNAME): an AMQP
					* released outcome; command level 5 */
};

/* Command levels (docs/lifecycle.md, "Command levels"). A build applies
 * every command up to FSM_CMDLEVEL. A member records its level with
 * MEMBER_LEVEL after each join (a join resets it to unknown, which counts as
 * FSM_CMDLEVEL_MIN: builds before command levels); the group's level is the
 * lowest of its members'. A command that needs more than the group's level
 * (fsm_cmd_level) is refused before it is submitted
 * (QSG_RC_FUNCTION_NOT_SUPPORTED), so that no member is handed an entry it
 * cannot decode. Level 2: the destination black list (CH_SETTLE
 * dispositions LIST/LIST_DLQ, CH_GETBATCH FSM_CHF_ALONE) and queue trigger
 * attributes. Level 3: private channels (CHDEFINE/CHALTER with
 * FSM_CA_QSGDISP); users (USER_DEFINE, USER_ALTER, USER_DELETE);
 * authority records (AUTHREC_SET, AUTHREC_DELETE). Level 4: MEMBER_REMOVE_QMGR
 * (a forgotten member's private channels leave with it); channel
 * authentication rules (CHLAUTH_SET). Level 5: BACKOUT_UNCOUNTED (a
 * backout that leaves BackoutCount alone). */
#define FSM_CMDLEVEL_MIN 1
#define FSM_CMDLEVEL 5

/* Command flags (FSM_F_SYNCPOINT .. FSM_F_GEN_MSGID, the message flags, are
 * in common/msg.h). */
#define FSM_F_REPLACE 0x0040 /* QDEFINE: replace existing */
#define FSM_F_PURGE 0x0080 /* QDELETE: delete even with messages */
#define FSM_F_CHUNKS                                                                               \
	0x0100 /* GET/BROWSE: the requester takes a chunked                                        \
		* message part by part (the result carries part                                    \
		* 0 and the part table; without it a chunked                                       \
		* message is returned whole) */

/* Large messages: FSM_CHUNK_MAX, fsm_nparts, fsm_part_len (common/msg.h). */

/* Queue dispositions, with MQ's meanings: SHARED (one queue the whole group
 * uses), GROUP (a definition every member gets a COPY of, including members
 * that join later; the COPY holds that member's messages), QMGR (a member's
 * private object). Resolution on member m: (m, name), a QMGR object or a
 * COPY, then (0, name) if it is a SHARED queue or a GROUP remote queue or
 * alias (used as is by a member that has no copy). */
enum fsm_qdisp {
	FSM_DISP_DEFAULT = 0,
	FSM_DISP_SHARED = 1,
	FSM_DISP_GROUP = 2,
	FSM_DISP_QMGR = 3,
	FSM_DISP_COPY = 4,
};
const char *fsm_disp_name(uint8_t disp);

enum fsm_indxtype { FSM_INDX_NONE = 0, FSM_INDX_MSGID = 1, FSM_INDX_CORRELID = 2 };

/* Bits of fsm_qattrs.set (QALTER changes only the attributes whose bit is set;
 * QDEFINE uses defaults for attributes whose bit is clear): FSM_QA_MAXDEPTH,
 * FSM_QA_MAXMSGL ... one per A(...) row of FSM_QATTRS (fsm_attrs.h), which
 * gives its value. */
enum { FSM_QATTRS(FSM_ATTR_NONE, FSM_ATTR_QA_BIT) };

/* Defaults (MQ-like). */
#define FSM_DEFAULT_MAXDEPTH 5000
#define FSM_DEFAULT_MAXMSGL (4u * 1024 * 1024)
#define FSM_DEFAULT_MAXUMSGS 10000
/* MEMBER_JOIN and LEASE_RENEW carry the lease duration in cmd.seq (0 = this
 * default, at most FSM_MAX_LEASE_MS). */
#define FSM_DEFAULT_LEASE_MS 1500
#define FSM_MAX_LEASE_MS (24u * 3600 * 1000)

/* Backout of a failed, restarted or forgotten member's units of work
 * (MEMBER_FAIL_BOUNDED, MEMBER_JOIN_BOUNDED, MEMBER_REMOVE_BOUNDED,
 * BACKOUT_PENDING): work per apply, in units: one per message backed out,
 * plus one per FSM_BACKOUT_UNIT_BYTES of content a move to the backout
 * queue copies. BACKOUT_PENDING's seq is capped at FSM_BACKOUT_BUDGET_MAX. */
#define FSM_BACKOUT_BUDGET 1024
#define FSM_BACKOUT_BUDGET_MAX 65536
#define FSM_BACKOUT_UNIT_BYTES 4096
/* Expired messages EXPIRE_BOUNDED removes per apply: as FSM_BACKOUT_BUDGET,
 * 1024 (0.3 ms in the state machine alone; 4096 took up to 200 ms of one
 * apply on a member at depth: cache misses, page faults). */
#define FSM_EXPIRE_BUDGET 1024

#define FSM_CMD_VERSION 2 /* second byte of every command */
/* Version 3 exists for CHST_CAS only: the version-2 layout with `partner`
 * always present (may be empty) and u32 flags (FSM_CHF_RETRY, never 0)
 * after it. It is written only for a CAS with flags, so every other command
 * is written as before; decoders accept 2 for every op and 3 for CHST_CAS. */
#define FSM_CMD_VERSION_CAS 3
#define FSM_ENTRY_TYPE_BATCH 1
#define FSM_ENTRY_HEADER_SIZE 16 /* version, type, reserved, time_ms, count */
#define FSM_F_ALL 0x01ff /* every defined FSM_F_* bit */
#define FSM_QA_ALL 0x1fffff /* every defined FSM_QA_* bit (FSM_QA_TRIG_MASK: 0x1f0000) */
/* The batcher must check every command with fsm_cmd_decode before adding it
 * to an entry: one undecodable command makes fsm_apply reject the whole
 * entry. */

/* Queue attributes: the fields of FSM_QATTRS (fsm_attrs.h) in table order.
 * qtype is fixed by QDEFINE (QALTER must not change it; a REPLACE of another
 * type fails with QSG_RC_OBJECT_EXISTS); local, remote and alias queues share
 * one name space. LOCAL queues take usage (enum fsm_usage); REMOTE queues
 * rname (the queue name at the remote end), rqmname (the remote queue
 * manager) and xmitq ("" = the queue named rqmname). ALIAS: target is the
 * base queue (TARGTYPE(QUEUE)), required by QDEFINE, need not exist; an alias
 * holds no messages: OPEN, PUT, GET and BROWSE resolve it (one level) to
 * that queue; an alias may carry only FSM_QA_QALIAS_MASK (DEFPSIST, DEFPRTY,
 * GET, PUT, DESCR and TARGET). QSGDISP and scope (docs/admin.md,
 * "Dispositions"): scope is 0 for SHARED queues and GROUP definitions, the
 * owning member's id for QMGR objects and for the COPY of a GROUP definition.
 * In QDEFINE, FSM_DISP_DEFAULT means SHARED for a local queue and GROUP for
 * the others; a stored object always has an explicit disposition. */
struct fsm_qattrs {
	FSM_QATTRS(FSM_ATTR_FIELD, FSM_ATTR_FIELD)
};

#include "fsm_chan.h"

struct fsm_member_stats {
	uint8_t role; /* 0 unavailable, 1 follower, 2 candidate, 3 leader */
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_index;
};

/* A user of the group (docs/security.md "Authentication"): a name (MQ
 * object name characters, upper case), up to FSM_USER_GROUPS_MAX group
 * names (likewise), a description and a credential: the password's
 * PBKDF2-HMAC-SHA256 hash with its salt and iteration count, computed
 * before the command is submitted (never in apply, never the password).
 * alt_ms: the leader's time of the last DEFINE/ALTER (set by apply). */
#define FSM_USER_GROUPS_MAX 16
#define FSM_USER_SALT_LEN 16
#define FSM_USER_HASH_LEN 32
#define FSM_CRED_PBKDF2_SHA256 1 /* the only scheme */
#define FSM_USER_ITER_MIN 10000
#define FSM_USER_ITER_MAX 100000000u
/* user.set bits (USER_ALTER changes those fields only; USER_DEFINE takes
 * every field and needs FSM_UA_CRED). */
#define FSM_UA_CRED 0x1
#define FSM_UA_GROUPS 0x2
#define FSM_UA_DESCR 0x4
#define FSM_UA_ALL 0x7
struct fsm_user {
	char name[FSM_NAME_MAX + 1];
	uint32_t set; /* FSM_UA_*: in commands only (0 in the state) */
	uint8_t ngroups;
	char groups[FSM_USER_GROUPS_MAX][FSM_NAME_MAX + 1];
	char descr[FSM_DESCR_MAX + 1];
	uint8_t scheme; /* FSM_CRED_* */
	uint32_t iterations;
	uint8_t salt[FSM_USER_SALT_LEN];
	uint8_t hash[FSM_USER_HASH_LEN];
	int64_t alt_ms;
};
/* A user or group name: 1..FSM_NAME_MAX of the MQ name characters, no
 * lower case (callers fold). */
bool fsm_user_name_valid(const char *s);

/* An authority record (docs/security.md "Authority records"): which
 * authorities (FSM_AUTH_*) an entity (a principal, i.e. a user, or a group)
 * has on the objects of one type that a profile (authmatch.h; "**" for
 * QMGR) names, for the whole group (scope 0, QSGDISP(GROUP)) or on one
 * member only (scope = its id, QSGDISP(QMGR)). The key is everything but
 * auth. */
enum fsm_authobj { FSM_AUTHOBJ_QUEUE = 1, FSM_AUTHOBJ_CHANNEL = 2, FSM_AUTHOBJ_QMGR = 3 };
enum fsm_authent { FSM_AUTHENT_PRINCIPAL = 1, FSM_AUTHENT_GROUP = 2 };
#define FSM_AUTH_CONNECT 0x0001u
#define FSM_AUTH_BROWSE 0x0002u
#define FSM_AUTH_GET 0x0004u
#define FSM_AUTH_INQ 0x0008u
#define FSM_AUTH_PUT 0x0010u
#define FSM_AUTH_SET 0x0020u
#define FSM_AUTH_CHG 0x0100u
#define FSM_AUTH_CLR 0x0200u
#define FSM_AUTH_CTRL 0x0400u
#define FSM_AUTH_CRT 0x0800u
#define FSM_AUTH_DLT 0x1000u
#define FSM_AUTH_DSP 0x2000u
#define FSM_AUTH_ALLMQI                                                                            \
	(FSM_AUTH_CONNECT | FSM_AUTH_BROWSE | FSM_AUTH_GET | FSM_AUTH_INQ | FSM_AUTH_PUT |         \
	 FSM_AUTH_SET)
#define FSM_AUTH_ALLADM                                                                            \
	(FSM_AUTH_CHG | FSM_AUTH_CLR | FSM_AUTH_CTRL | FSM_AUTH_CRT | FSM_AUTH_DLT | FSM_AUTH_DSP)
#define FSM_AUTH_ALL (FSM_AUTH_ALLMQI | FSM_AUTH_ALLADM)
struct fsm_authrec {
	char profile[FSM_NAME_MAX + 1];
	uint8_t objtype; /* enum fsm_authobj */
	uint8_t enttype; /* enum fsm_authent */
	char entity[FSM_NAME_MAX + 1]; /* a user or group name (upper case) */
	uint32_t scope; /* 0: the group; else a member id */
	uint32_t auth; /* FSM_AUTH_*; AUTHREC_SET: the authorities to add */
	uint32_t rmv; /* AUTHREC_SET: the authorities to remove (0 in the state) */
};
/* The authorities that mean something on an object type (ALL is these). */
uint32_t fsm_auth_valid(uint8_t objtype);

/* A channel authentication rule (docs/security.md "Channel authentication
 * (CHLAUTH)", src/fsm/chlmatch.h for the patterns): for the channels a
 * generic profile names, BLOCKADDR refuses addresses (profile "*" only,
 * addrlist), ADDRESSMAP/SSLPEERMAP/USERMAP decide (usersrc) who a
 * connection from an address, with a certificate DN or asserting a user
 * runs as. The key is profile, type, address, sslpeer, clntuser. */
enum fsm_chlatype {
	FSM_CHL_BLOCKADDR = 1,
	FSM_CHL_ADDRESSMAP = 2,
	FSM_CHL_SSLPEERMAP = 3,
	FSM_CHL_USERMAP = 4
};
enum fsm_chlusersrc { FSM_CHL_MAP = 1, FSM_CHL_NOACCESS = 2, FSM_CHL_CHANNEL = 3 };
enum fsm_chlaction {
	FSM_CHL_ADD = 1, /* a map: new only; BLOCKADDR: addresses added to the list */
	FSM_CHL_REPLACE = 2, /* made or replaced (BLOCKADDR: the list replaced) */
	FSM_CHL_REMOVE = 3, /* a map: removed; BLOCKADDR: addresses taken off the list */
	FSM_CHL_REMOVEALL = 4 /* every rule of the profile and type */
};
#define FSM_CHL_ADDR_MAX 64
#define FSM_CHL_ADDRLIST_MAX 256
#define FSM_CHL_PEER_MAX 256
struct fsm_chlauth {
	char profile[FSM_NAME_MAX + 1]; /* generic channel name ('*') */
	uint8_t type; /* enum fsm_chlatype */
	char address[FSM_CHL_ADDR_MAX + 1]; /* maps: the address pattern ("*" any) */
	char sslpeer[FSM_CHL_PEER_MAX + 1]; /* SSLPEERMAP: DN pattern; else "" */
	char clntuser[FSM_NAME_MAX + 1]; /* USERMAP: the asserted user; else "" */
	uint8_t usersrc; /* maps: enum fsm_chlusersrc; BLOCKADDR 0 */
	uint8_t warn; /* 1: a refusal is only logged (QSG8016W) */
	char mcauser[FSM_NAME_MAX + 1]; /* USERSRC(MAP): the user it runs as */
	char descr[FSM_DESCR_MAX + 1];
	char addrlist[FSM_CHL_ADDRLIST_MAX + 1]; /* BLOCKADDR: "p1,p2,..." */
	uint8_t action; /* CHLAUTH_SET: enum fsm_chlaction (0 in the state) */
};

struct fsm_cmd {
	uint8_t op; /* enum fsm_op */
	uint32_t flags; /* FSM_F_* */
	uint64_t client_id; /* session ops */
	uint64_t epoch; /* session ops: epoch returned by ATTACH */
	uint32_t member_id; /* ATTACH, member ops */
	uint64_t seq; /* PUT: producer sequence; COMMIT: uow number;
		       * MEMBER_FAIL: lease expiry seen; EXPIRE: ttl ms */
	char queue[FSM_NAME_MAX + 1];
	struct fsm_qattrs attrs; /* QDEFINE/QALTER */
	struct fsm_msg msg; /* PUT: the message; GET/BROWSE: match ids;
			     * BROWSE: cursor in msg.priority/msg.seqno
			     * (0/0 = from the start) */
	/* MEMBER_JOIN */
	char name[FSM_NAME_MAX + 1];
	char raft_addr[FSM_ADDR_MAX + 1];
	char client_addr[FSM_ADDR_MAX + 1];
	struct fsm_member_stats stats; /* LEASE_RENEW */
	struct fsm_chcmd ch; /* channel ops, QMGR_ALTER, CHINIT_STATE */
	/* PUT_CHUNK */
	uint32_t part; /* 0 .. fsm_nparts(total) - 1 */
	uint32_t total; /* body length of the whole message */
	struct fsm_user user; /* USER_DEFINE/ALTER/DELETE */
	struct fsm_authrec authrec; /* AUTHREC_SET/DELETE */
	struct fsm_chlauth chlauth; /* CHLAUTH_SET */
};

/* Encode one command (without length prefix). */
int fsm_cmd_encode(const struct fsm_cmd *c, struct qsg_wbuf *w);
/* Decode one command from exactly `len` bytes; slices point into p. */
int fsm_cmd_decode(const void *p, size_t len, struct fsm_cmd *c, char *errmsg);

/* Entry building: begin writes the header with count 0; add appends one
 * encoded command (len-prefixed) and bumps the count. */
void fsm_entry_begin(struct qsg_wbuf *w, int64_t time_ms);
void fsm_entry_add(struct qsg_wbuf *w, const void *cmd, size_t len);
uint32_t fsm_entry_count(const struct qsg_wbuf *w);

/* Entry reading, the inverse: begin checks the header (version, type,
 * 1..FSM_MAX_BATCH commands) and reads the leader's time; next returns the
 * bytes of each command in turn (undecoded); end checks that nothing
 * follows the last one. Each returns QSG_OK or QSG_RC_BAD_FRAME /
 * QSG_RC_BAD_VERSION with errmsg (which may be NULL). */
struct fsm_entry_reader {
	struct qsg_rbuf r;
	int64_t time_ms;
	uint32_t count; /* commands in the entry */
	uint32_t next; /* commands returned so far */
};
int fsm_entry_read_begin(struct fsm_entry_reader *er, const void *entry, size_t len, char *errmsg);
int fsm_entry_read_next(struct fsm_entry_reader *er, struct qsg_slice *cmd, char *errmsg);
int fsm_entry_read_end(struct fsm_entry_reader *er, char *errmsg);

/* Decoded result. Slices point into the result bytes. */
struct fsm_result {
	int rc;
	/* ATTACH */
	uint64_t epoch;
	uint64_t put_seq; /* highest producer seq applied for this client */
	uint64_t uows_done; /* number of uows committed by this client */
	/* PUT */
	uint8_t duplicate; /* the put was already applied (idempotent retry) */
	/* PUT (msgid, seqno) / GET / BROWSE (whole message) */
	struct fsm_msg msg;
	/* GET / BROWSE with FSM_F_CHUNKS of a chunked message: msg.body is
	 * part 0's body bytes only; body_len is the whole body's length and
	 * part_crc holds nparts u32 (little-endian) CRC32C, one per part's
	 * content (fsm_result_part_crc). nparts = 0 otherwise. */
	uint32_t nparts;
	uint32_t body_len;
	struct qsg_slice part_crc;
	/* Channel ops (fsm_chan.h). CHST_CAS carries the current image also
	 * with QSG_RC_CAS_FAILED; CH_RECV_BATCH carries the rejected list with
	 * QSG_RC_BATCH_REJECTED. */
	struct fsm_chresult ch;
};
int fsm_result_decode(uint8_t op, const void *p, size_t len, struct fsm_result *res, char *errmsg);
uint32_t fsm_result_part_crc(const struct fsm_result *res, uint32_t part);

/* Read-only views for administration and the daemon. */
struct fsm_qinfo {
	struct fsm_qattrs attrs;
	uint32_t curdepth; /* all messages, including uncommitted puts and gets */
	uint32_t uncommitted; /* messages in some uow (puts and gets) */
	uint32_t opens; /* open handles across the group */
	int64_t oldest_put_ms; /* put time of the oldest committed message, 0 if none */
	uint64_t puts_total;
	uint64_t gets_total;
};

enum fsm_member_state {
	FSM_MEMBER_ACTIVE = 1,
	FSM_MEMBER_FAILED = 2,
};

struct fsm_member {
	uint32_t id;
	char name[FSM_NAME_MAX + 1];
	char raft_addr[FSM_ADDR_MAX + 1];
	char client_addr[FSM_ADDR_MAX + 1];
	uint8_t state; /* enum fsm_member_state */
	int64_t lease_expiry_ms; /* leader time */
	int64_t last_renew_ms;
	struct fsm_member_stats stats; /* as reported in its last renewal */
	uint32_t sessions; /* attached sessions owned by it */
	uint8_t chinit; /* its channel initiator: 1 running, 0 not (MEMBER_JOIN
			 * and MEMBER_FAIL set 0; CHINIT_STATE sets it) */
	uint16_t cmdlevel; /* the command level it reported (MEMBER_LEVEL); 0 =
			    * unknown (MEMBER_JOIN resets it) */
};

struct fsm;

/* Called during apply when `n` messages became available on `queue`
 * (a committed put, a backout). Output only: must not touch the fsm. */
typedef void (*fsm_notify_cb)(void *arg, uint32_t scope, const char *queue, uint32_t n);

/* Message bodies (docs/storage.md). The state machine keeps a descriptor per
 * message (ids, priority, expiry, backout count, lengths, crc); the content
 * (properties then body, props_len + body_len bytes) lives with a body
 * provider: the member's message store in qsgd (src/store/bodystore.h), an
 * in-memory map otherwise (the default of fsm_init, used by tests). The
 * state machine stays pure: nothing a provider returns changes replicated
 * state, and a provider failure is not a command result but fatal for the
 * member (fsm_apply returns QSG_RC_IO; the daemon fail-stops).
 *  put       a message entered the state (PUT, CH_RECV_BATCH, DLQ copy):
 *            keep its content. crc = crc32c(props || body). QSG_OK or
 *            QSG_RC_IO. Called again for a seqno it already holds (log
 *            replay after a restart): keep one copy.
 *  read      append the props_len + body_len bytes of seqno to out,
 *            verified against crc. QSG_OK, or QSG_RC_IO (unreadable, or not
 *            held: a member still catching up).
 *  release   the message left the state (consumed, expired, cleared,
 *            purged, queue deleted): its content is no longer needed.
 *  claim     fsm_restore replaced the state: called once for every message
 *            of the new state, after the whole snapshot decoded, then
 *  restored  with the snapshot's last seqno. Messages the provider holds
 *            that were not claimed and have seqno <= last_seqno are no
 *            longer in the state; seqnos above it will be put again by the
 *            log that follows the snapshot. A claimed seqno the provider
 *            does not hold must be fetched from a peer (catch-up).
 * Every callback runs inside fsm_apply/fsm_restore on the caller's thread. */
struct fsm_bodies {
	void *arg;
	int (*put)(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		   const void *body, uint32_t body_len, uint32_t crc);
	int (*read)(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		    struct qsg_wbuf *out);
	void (*release)(void *arg, uint64_t seqno);
	void (*claim)(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len,
		      uint32_t crc);
	void (*restored)(void *arg, uint64_t last_seqno);
	/* Large messages: the parts of a chunked message are separate pieces
	 * of content, keyed (seqno, part); crc is the part's CRC32C.
	 *  put_part   as put, for one part (part 0: props then body bytes).
	 *  read_part  as read, for one part of len bytes.
	 *  claim_part as claim, for each part a restored state names.
	 * release(seqno) releases every part of seqno. */
	int (*put_part)(void *arg, uint64_t seqno, uint32_t part, const void *props,
			uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc);
	int (*read_part)(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			 struct qsg_wbuf *out);
	void (*claim_part)(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc);
	/* Optional (NULL: the state machine reads the content and puts it
	 * again). The content held under seqno (every part) is from now on
	 * that of new_seqno, and seqno no longer names anything: a message
	 * moved to a backout queue as a new arrival (docs/storage.md, "Moves
	 * to a backout queue"). O(1), no body I/O, durable as a put is, and
	 * applied again (log replay) a no-op. QSG_OK, or QSG_RC_IO (content
	 * not held: the apply fails as a failed read would). */
	int (*rename)(void *arg, uint64_t seqno, uint64_t new_seqno);
};

int fsm_init(struct fsm **out, char *errmsg);
void fsm_close(struct fsm *f);
void fsm_set_notify(struct fsm *f, fsm_notify_cb cb, void *arg);
/* Replace the body provider (before the first apply or restore; the
 * built-in in-memory provider is dropped). b is copied; every callback must
 * be set but rename (optional). */
void fsm_set_bodies(struct fsm *f, const struct fsm_bodies *b);
/* Tests and the simulator: let f's built-in in-memory provider copy the
 * content of a claimed (or read) seqno it does not hold from `peer`'s
 * built-in provider, as a member catching up fetches it from a peer. Peers
 * form a ring (a -> b -> c -> a); a lookup walks it once. A call merges f's
 * ring and peer's ring into one (nothing if they already share one, or if
 * either has replaced its provider); closing an fsm unlinks it, so fsms may
 * be closed in any order. Peers also serve content they released recently
 * (a bounded graveyard, src/fsm/membodies.h), as the real store keeps
 * released records until a snapshot that no longer names them is stable. */
void fsm_bodies_mem_peer(struct fsm *f, struct fsm *peer);

/* Apply one log entry. results may be NULL (nobody waits): then no content
 * is read. Returns QSG_OK, or QSG_RC_BAD_FRAME/QSG_RC_BAD_VERSION (entry
 * rejected, state unchanged), or QSG_RC_STORAGE_NOT_AVAILABLE (out of
 * memory), or QSG_RC_IO: the body provider's put or read failed; the
 * command that met it fails with QSG_RC_IO and the rest of the entry is not
 * applied. With either of the last two the state may be partly changed and
 * differ from the other members': fatal, the member must stop (the restart
 * replays the log). */
int fsm_apply(struct fsm *f, const void *entry, size_t len, struct qsg_wbuf *results, char *errmsg);

/* Pending backouts (docs/storage.md, "Leases that do not lie"). MEMBER_FAIL
 * backs out every unit of work of the failed member's sessions in one apply.
 * MEMBER_FAIL_BOUNDED detaches them the same way (the member is FAILED, its
 * sessions fenced, their opens dropped) but backs out at most
 * FSM_BACKOUT_BUDGET units of work, in client_id order then uow order; the
 * messages left stay in the detached sessions' units of work, invisible
 * (held puts and locked gets) and counted as uncommitted, until
 * BACKOUT_PENDING commands, each as bounded, have backed them out. An ATTACH
 * of such a session backs out the rest of its unit of work at once, as
 * today. MEMBER_JOIN_BOUNDED and MEMBER_REMOVE_BOUNDED bound the detach of
 * a restarted or forgotten member's sessions the same way; a
 * MEMBER_REMOVE_BOUNDED that finds a session of the member with a backout
 * pending (its own, or an earlier MEMBER_FAIL_BOUNDED's or
 * MEMBER_JOIN_BOUNDED's) leaves the member and its objects in place, to be
 * sent again once the backout is done (its queues hold those messages).
 * fsm_backout_pending: the number of messages left; the leader submits
 * BACKOUT_PENDING while it is not 0. */
uint64_t fsm_backout_pending(struct fsm *f);
/* The part of fsm_backout_pending left in sessions member_id owns. While it
 * is not 0, a MEMBER_REMOVE_BOUNDED of that member leaves it in place (its
 * apply asks this too): the leader waits for it, not for other members'
 * backouts, before sending one. A pure read of the state. */
uint64_t fsm_backout_pending_owned(struct fsm *f, uint32_t member_id);

/* The last EXPIRE_BOUNDED applied here stopped at FSM_EXPIRE_BUDGET with
 * messages still due: the leader sends the next one at once instead of
 * waiting for expire_interval_ms (docs/storage.md, "Expiry"). */
bool fsm_expire_more(const struct fsm *f);

/* Garbage collection, outside apply (docs/storage.md, "Leases that do not
 * lie"). CLEAR QLOCAL and DELETE QLOCAL PURGE (and the queues MEMBER_REMOVE
 * drops) take every visible message out of the state in one O(1) step: the
 * state no longer has them (depth 0, not in snapshots or digests), but their
 * descriptors, index entries and provider content are freed later, in
 * slices: fsm_reap frees up to `budget` objects (messages, whose content it
 * releases to the provider, and index entries) and returns true while
 * garbage is left (budget 0: only that answer, O(1)). The daemon calls it from its loop between
 * iterations; tests call it at will. Not state: members reap at different times and still have
 * equal states. fsm_close and fsm_restore free what is left without releasing it (the provider
 * learns from the claims, fsm_bodies). fsm_reap_pending: the number of messages still to free. */
bool fsm_reap(struct fsm *f, unsigned budget);
uint64_t fsm_reap_pending(const struct fsm *f);

/* Read part `part` (len bytes, CRC32C crc, as a GET result's part table
 * gives them) of the chunked message seqno from this member's provider
 * into out (GET_PART, served by the member the client talks to). Outside
 * apply, on the apply thread; changes nothing. QSG_OK, QSG_RC_INVALID (part
 * or len out of range) or QSG_RC_NO_MSG_AVAILABLE (not held here: released,
 * or not applied or fetched yet). */
int fsm_read_part(struct fsm *f, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
		  struct qsg_wbuf *out);

/* Canonical snapshot (same state => same bytes) and restore. Restore
 * replaces the state only if the whole snapshot decodes. The snapshot
 * (format 3, docs/protocol.md) holds descriptors, not content: restore then
 * calls the provider's claim for every message of the new state (in
 * snapshot order) and restored(last_seqno). Format 2 (content inside) is
 * still accepted: its content is put to the provider once the whole
 * snapshot decoded (a put failure: QSG_RC_IO, state unchanged), then
 * claimed like format 3. */
int fsm_snapshot(struct fsm *f, struct qsg_wbuf *out);
/* The same in an older format that restore still reads (5 ..
 * FSM_SNAPSHOT_VERSION; QSG_RC_BAD_VERSION otherwise): for the tests of
 * restore's compatibility and for a group that is being upgraded. */
int fsm_snapshot_format(struct fsm *f, struct qsg_wbuf *out, uint8_t version);
int fsm_restore(struct fsm *f, const void *p, size_t len, char *errmsg);
/* fsm_restore in steps, for a caller that decodes off its loop
 * (raft-glue's asynchronous restore, docs/storage.md):
 *  - fsm_restore_decode: the whole decode into a detached image; pure,
 *    touches nothing but the image: any thread. Errors as fsm_restore.
 *  - fsm_restore_install (the state's thread): format 2 content to the
 *    provider (QSG_RC_IO: state unchanged, img freed), then the image
 *    becomes f's state at once; the previous state comes back in *old, to
 *    be freed with fsm_image_free on any thread.
 *  - fsm_restore_claims (the state's thread): the provider's claims, at
 *    most `budget` messages a call; true once every claim and restored()
 *    were made. Until then nothing may be applied to f.
 * fsm_restore is the three in a row. */
struct fsm_image;
int fsm_restore_decode(const void *p, size_t len, struct fsm_image **out, char *errmsg);
int fsm_restore_install(struct fsm *f, struct fsm_image *img, struct fsm_image **old, char *errmsg);
bool fsm_restore_claims(struct fsm *f, size_t budget);
void fsm_image_free(struct fsm_image *img);
/* Hash of the canonical snapshot: equal states have equal digests. */
uint64_t fsm_digest(struct fsm *f);

/* Delta snapshots (docs/storage.md "A base and deltas"). Not state: the
 * state machine tracks, member-locally, how the queues' committed contents
 * changed since a base, the state at some index B whose full snapshot the
 * caller keeps (a file). The tracking never changes an apply's results.
 *  - fsm_delta_rebase: the current state becomes the base (call it when
 *    its full snapshot is taken, at the same index: fsm_snapshot then;
 *    in fork mode right after the fork). O(queues + touched messages).
 *  - fsm_delta_stop: no base (fsm_delta_valid false until the next rebase).
 *  - fsm_delta_valid: a base was taken and the tracking is complete (an
 *    allocation failure or a restore ends it: the next snapshot must be a
 *    full one and a rebase).
 *  - fsm_delta_size: the number of records a delta would hold now (an upper
 *    bound: removed seqnos + touched messages + seqnos assigned since the
 *    base); fsm_delta_base_count: committed messages of the base.
 *  - fsm_snapshot_delta: format 12, the small state in full, `ref` (the
 *    caller's name for the base: its index, file size and checksum) and
 *    the change of the queues' contents since the base. QSG_RC_INVALID
 *    without a valid base.
 *  - fsm_snapshot_baseref: the base reference of a format 12 snapshot
 *    (QSG_RC_BAD_FRAME if p is not one).
 *  - fsm_restore_decode_delta: fsm_restore_decode of the state that `base`
 *    (the full snapshot at the base) plus `delta` (format 12 against it)
 *    describe; the caller checks that base is the file ref names. */
struct fsm_baseref {
	uint64_t index; /* raft index of the base */
	uint64_t size; /* bytes of its file */
	uint32_t crc; /* the file's checksum (the caller's) */
};
void fsm_delta_rebase(struct fsm *f);
void fsm_delta_stop(struct fsm *f);
bool fsm_delta_valid(const struct fsm *f);
uint64_t fsm_delta_size(const struct fsm *f);
uint64_t fsm_delta_base_count(const struct fsm *f);
int fsm_snapshot_delta(struct fsm *f, const struct fsm_baseref *ref, struct qsg_wbuf *out);
int fsm_snapshot_baseref(const void *p, size_t len, struct fsm_baseref *ref);
int fsm_restore_decode_delta(const void *base, size_t blen, const void *delta, size_t dlen,
			     struct fsm_image **out, char *errmsg);

/* Queries (local replica). fsm_queue_info finds the object (scope, name)
 * exactly; fsm_queue_lookup resolves name as member `member` sees it (see
 * enum fsm_qdisp; member 0 sees only SHARED and GROUP objects). */
int fsm_queue_info(struct fsm *f, uint32_t scope, const char *name, struct fsm_qinfo *out);
int fsm_queue_lookup(struct fsm *f, uint32_t member, const char *name, struct fsm_qinfo *out);
/* Visit every queue in name order; stop when cb returns non-zero. */
void fsm_queue_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_qinfo *q), void *arg);
void fsm_member_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_member *m), void *arg);
int fsm_member_get(struct fsm *f, uint32_t id, struct fsm_member *out);
/* The group's command level: the lowest of its members' (an unknown level
 * counts as FSM_CMDLEVEL_MIN); FSM_CMDLEVEL_MIN with no members. */
unsigned fsm_group_cmdlevel(struct fsm *f);
/* The command level a decoded command needs (FSM_CMDLEVEL_MIN for every
 * command older builds apply). */
unsigned fsm_cmd_level(const struct fsm_cmd *c);
/* Users (local replica): the record of name (QSG_RC_UNKNOWN_OBJECT when
 * there is none); every user in name order until cb returns non-zero. */
int fsm_user_get(struct fsm *f, const char *name, struct fsm_user *out);
void fsm_user_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_user *u), void *arg);
/* Authority records (local replica, fsm_authrec.c): every record in key
 * order (profile, objtype, enttype, entity, scope) until cb returns
 * non-zero; the record of a key (QSG_RC_UNKNOWN_OBJECT when none). */
void fsm_authrec_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_authrec *r),
			 void *arg);
int fsm_authrec_get(struct fsm *f, const struct fsm_authrec *key, struct fsm_authrec *out);
/* What an identity may do on object `name` of objtype as member member_id
 * sees it (docs/security.md "Authority records"): for each of its entities
 * (user as PRINCIPAL unless NULL or "", each group as GROUP), the most
 * specific matching profile among that entity's records of scope member_id,
 * else among its records of scope 0; the union over the entities. */
uint32_t fsm_authority(struct fsm *f, uint32_t member_id, const char *user,
		       const char (*groups)[FSM_NAME_MAX + 1], unsigned ngroups, uint8_t objtype,
		       const char *name);
/* Changes with every change of the authority records, the users and the
 * channel authentication rules (and every restore): callers cache
 * fsm_authority's answers and the identities of their connections by it. */
uint64_t fsm_authrec_generation(struct fsm *f);
/* Channel authentication rules (local replica, fsm_chlauth.c): all of
 * them in key order (valid until the next apply or restore; *n set), and
 * every rule until cb returns non-zero. */
const struct fsm_chlauth *fsm_chlauth_rules(struct fsm *f, size_t *n);
void fsm_chlauth_foreach(struct fsm *f, int (*cb)(void *arg, const struct fsm_chlauth *r),
			 void *arg);
/* Entries applied since init/restore and the time of the last one. */
uint64_t fsm_entries_applied(struct fsm *f);
int64_t fsm_last_time(struct fsm *f);
/* Number of committed messages a get by member `member` could take now
 * (for waiters); an alias counts its target's. */
uint32_t fsm_available(struct fsm *f, uint32_t member, const char *queue);
/* The queue that holds the messages of `name` (the name the notify callback
 * reports): an alias's target, or `name` itself for a local or remote queue.
 * target_out has FSM_NAME_MAX + 1 bytes. QSG_RC_UNKNOWN_OBJECT when name
 * does not exist, QSG_RC_UNKNOWN_ALIAS_BASE_Q when it is an alias whose
 * target is missing or another alias (target_out is then the target). */
int fsm_queue_resolve(struct fsm *f, uint32_t member, const char *name, char *target_out);

#endif
