/* The client listener's authority checks (docs/security.md "Authority
 * records"), ADMIN requests and GET_PART. See server_int.h. */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"

#include "admin/mqsc.h"

static void admin_done(void *arg, int rc, const char *text, struct proto_admin_writer *objects)
{
	struct sreq *r = arg;
	struct proto_resp resp;
	if (rc != QSG_OK) {
		reply_rc(r->c, PROTO_ADMIN, r->reqid, rc, text);
	} else {
		memset(&resp, 0, sizeof resp);
		resp.op = PROTO_ADMIN;
		resp.reqid = r->reqid;
		if (text != NULL) {
			resp.text.p = (const uint8_t *)text;
			resp.text.len = strlen(text);
		}
		if (objects != NULL)
			proto_admin_to_resp(objects, &resp);
		reply(r->c, &resp);
	}
	req_done(r);
}

/* The admin module's view of a connection's identity (admin_authz). */
static uint32_t admin_authority(void *arg, uint8_t objtype, const char *name)
{
	struct conn *c = arg;
	return auth_authority_cached(&c->srv->auth, &c->acache, &c->id, objtype, name);
}

static void admin_denied(void *arg, uint32_t need, uint8_t objtype, const char *name,
			 const char *command)
{
	struct conn *c = arg;
	char peer[80];
	conn_peer(c, peer, sizeof peer);
	auth_denied(&c->srv->auth, &c->id, peer, need, objtype, name, command);
}

/* A client request's authority (docs/security.md "Authority records"): PUT,
 * GET or BROWSE on the queue as the application named it (an alias or a
 * remote queue is checked by that name, as MQ does at MQOPEN); OPEN, which
 * has no intent in this protocol, any of them or INQ. Other requests need
 * nothing beyond CONNECT (GET_PART and GET_DONE continue a GETX or BROWSEX
 * that was checked). true when allowed; otherwise answered with 2035. */
bool req_authorized(struct conn *c, const struct proto_req *req, const char *queue)
{
	uint32_t need;
	bool any = false;
	const char *what;
	switch (req->op) {
	case PROTO_PUT:
	case PROTO_PUT_CHUNK:
		need = FSM_AUTH_PUT;
		what = "PUT";
		break;
	case PROTO_GET:
	case PROTO_GETX:
		need = FSM_AUTH_GET;
		what = "GET";
		break;
	case PROTO_BROWSE:
	case PROTO_BROWSEX:
		need = FSM_AUTH_BROWSE;
		what = "BROWSE";
		break;
	case PROTO_OPEN:
		need = FSM_AUTH_PUT | FSM_AUTH_GET | FSM_AUTH_BROWSE | FSM_AUTH_INQ;
		any = true;
		what = "OPEN";
		break;
	default:
		return true;
	}
	uint32_t have =
	    auth_authority_cached(&c->srv->auth, &c->acache, &c->id, FSM_AUTHOBJ_QUEUE, queue);
	if (any ? (have & need) != 0 : (have & need) == need)
		return true;
	char peer[80], text[300], list[160];
	conn_peer(c, peer, sizeof peer);
	auth_denied(&c->srv->auth, &c->id, peer, need, FSM_AUTHOBJ_QUEUE, queue, what);
	mqsc_auth_list(need, list, sizeof list);
	snprintf(text, sizeof text, "user %s is not authorized to %s: it needs %s%s on QUEUE(%s)",
		 auth_principal(&c->id), what, any ? "one of " : "", list, queue);
	reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED, text);
	return false;
}

void on_admin(struct conn *c, const struct proto_req *req)
{
	struct sreq *r = req_new(c, req->op, req->reqid);
	if (r == NULL || (r->admin_text = malloc(req->u.admin.text.len + 1)) == NULL) {
		reply_rc(c, req->op, req->reqid, QSG_RC_STORAGE_NOT_AVAILABLE, NULL);
		if (r != NULL)
			req_done(r);
		return;
	}
	memcpy(r->admin_text, req->u.admin.text.p, req->u.admin.text.len);
	r->admin_text[req->u.admin.text.len] = '\0';
	/* The command runs as the connection's identity (admin_authz): the
	 * env is copied, the identity is used only during admin_exec. */
	struct admin_env env = c->srv->admin;
	struct admin_authz az = {.arg = c,
				 .authority = admin_authority,
				 .denied = admin_denied,
				 .user = auth_principal(&c->id)};
	env.authz = auth_bypass(&c->srv->auth, &c->id) ? NULL : &az;
	admin_exec(&env, r->admin_text, req->u.admin.text.len, admin_done, r);
}

/* GET_PART: answered at once from this member's store. NO_MSG_AVAILABLE
 * when the part is not held here (yet: this member may not have applied
 * the put's entries; the client asks again). */
void on_get_part(struct conn *c, const struct proto_req *req)
{
	struct qsg_wbuf buf;
	struct proto_resp resp;
	/* Only parts of a message a GETX/BROWSEX gave this connection (its
	 * GET or BROWSE authority was checked there). */
	bool given = auth_bypass(&c->srv->auth, &c->id);
	for (unsigned i = 0; i < CONN_XSEQ && !given; i++)
		given = c->xseq[i] != 0 && c->xseq[i] == req->u.part.seqno;
	if (!given) {
		char peer[80], name[32];
		conn_peer(c, peer, sizeof peer);
		snprintf(name, sizeof name, "message %llu", (unsigned long long)req->u.part.seqno);
		auth_denied(&c->srv->auth, &c->id, peer, FSM_AUTH_GET | FSM_AUTH_BROWSE,
			    FSM_AUTHOBJ_QUEUE, name, "GET_PART");
		reply_rc(c, req->op, req->reqid, QSG_RC_NOT_AUTHORIZED,
			 "GET_PART: the message was not given to this connection by GETX or "
			 "BROWSEX");
		return;
	}
	qsg_wbuf_init(&buf);
	int rc = fsm_read_part(c->srv->d->fsm, req->u.part.seqno, req->u.part.part, req->u.part.len,
			       req->u.part.crc, &buf);
	if (rc != QSG_OK) {
		reply_rc(c, req->op, req->reqid, rc, NULL);
	} else {
		memset(&resp, 0, sizeof resp);
		resp.op = req->op;
		resp.reqid = req->reqid;
		resp.u.part.data.p = buf.data;
		resp.u.part.data.len = buf.len;
		reply(c, &resp);
	}
	qsg_wbuf_close(&buf);
}
