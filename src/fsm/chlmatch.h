/* Channel authentication rules: their patterns and which rule applies to a
 * connection (docs/security.md "Channel authentication (CHLAUTH)"). Pure
 * functions over an array of rules (fsm_chlauth_rules), no state, no I/O:
 * the daemon (src/qsgd/chlcheck.c), DISPLAY CHLAUTH MATCH(RUNCHECK) and
 * tests/unit/test_chlmatch.c use them.
 *
 * Channel profiles: 1..48 of the MQ name characters and '*', which matches
 * any characters (dots included), as MQ's CHLAUTH profiles do. Of two
 * profiles that match, the one whose first '*' comes later is more
 * specific (a profile without '*' beats every generic one; "SYSTEM.*"
 * beats "SYS*" beats "*").
 *
 * Address patterns (ADDRESS, ADDRLIST): an IPv4 address whose parts are
 * each a number, a range "n-m" or "*" ("10.0.0.1-20", "192.168.*.*"); a
 * trailing "*" part stands for every remaining part ("10.*"); "*" alone is
 * any address. An IPv6 or other address matches a pattern of the same
 * text, where '*' matches any characters. Of two matching patterns the
 * more specific is the one whose first difference, part by part from the
 * left, is a number against a range or '*', or a narrower range against a
 * wider one or '*'.
 *
 * SSLPEER patterns: "ATTR=value" pairs separated by ',' (blanks next to the
 * separators ignored), each of which must be in the peer's subject DN
 * (RFC 2253, attribute names and values compared without case); a value
 * ending in '*' matches any value that starts with the rest. More pairs
 * are more specific, then fewer '*', then the longer pattern. */
#ifndef QSG_FSM_CHLMATCH_H
#define QSG_FSM_CHLMATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "fsm.h"

/* NULL when well formed, else why not (for the refusal's text). */
const char *chlmatch_profile_why(const char *profile);
bool chlmatch_profile(const char *profile, const char *channel);
/* < 0 when a is more specific than b, > 0 when b is, 0 when equal. */
int chlmatch_profile_cmp(const char *a, const char *b);

const char *chlmatch_addr_why(const char *pattern);
bool chlmatch_addr(const char *pattern, const char *addr);
int chlmatch_addr_cmp(const char *a, const char *b);
/* ADDRLIST: 1..FSM_CHL_ADDRLIST_MAX characters of comma-separated address
 * patterns (no blanks, none empty). */
const char *chlmatch_addrlist_why(const char *list);
/* The pattern of list that matches addr (copied into out[size]); false
 * when none does. */
bool chlmatch_addrlist(const char *list, const char *addr, char *out, size_t size);

const char *chlmatch_peer_why(const char *pattern);
bool chlmatch_peer(const char *pattern, const char *dn);
int chlmatch_peer_cmp(const char *a, const char *b);

/* A connection as the rules see it. channel: the channel it uses
 * (SYSTEM.DEF.SVRCONN for a client that names none); address: the peer's
 * IP address without port; sslpeer: its verified certificate's subject DN
 * ("" none); clntuser: the user it asserts (the HELLO's user id, else its
 * certificate's CN; "" none). */
struct chl_in {
	const char *channel;
	const char *address;
	const char *sslpeer;
	const char *clntuser;
};

enum chl_verdict {
	CHL_ALLOW = 0, /* as itself (rule NULL) or as rule's MCAUSER / USERSRC(CHANNEL) */
	CHL_BLOCKADDR = 1, /* a BLOCKADDR rule (rule) lists the address */
	CHL_NOACCESS = 2, /* the rule that applies (rule) says USERSRC(NOACCESS) */
};

#define CHL_WARN_MAX 4
struct chl_result {
	int verdict; /* enum chl_verdict */
	const struct fsm_chlauth *rule; /* the rule that applies; NULL none */
	char blocked_by[FSM_CHL_ADDR_MAX + 1]; /* CHL_BLOCKADDR: the pattern */
	/* WARN(YES) rules that would have refused the connection: they are
	 * only logged (QSG8016W). */
	const struct fsm_chlauth *warned[CHL_WARN_MAX];
	unsigned nwarned;
	/* CHL_ALLOW by a USERSRC(MAP) rule: the user the connection runs as;
	 * "" otherwise. */
	const char *mcauser;
};

/* Which rule applies (docs/security.md "Channel authentication (CHLAUTH)"):
 * a BLOCKADDR rule listing the address refuses (unless WARN(YES): logged,
 * and the next is looked at); then, among the maps that match (profile,
 * ADDRESS filter, SSLPEER, CLNTUSER), those of the most specific profile,
 * of which SSLPEERMAP before USERMAP before ADDRESSMAP, then the most
 * specific SSLPEER / ADDRESS. That rule's USERSRC decides: MAP runs as
 * MCAUSER, CHANNEL as the connection's own identity, NOACCESS refuses
 * (WARN(YES): logged, allowed as its own identity). No matching map: the
 * connection's own identity. With only_blockaddr, maps are not looked at
 * (the check at accept, before the channel is known). */
void chlmatch_decide(const struct fsm_chlauth *rules, size_t n, const struct chl_in *in,
		     bool only_blockaddr, struct chl_result *out);

/* MQ's names: "BLOCKADDR" ..., "MAP" ..., "ADD" ...; "?" otherwise. */
const char *chlmatch_type_name(unsigned type);
const char *chlmatch_usersrc_name(unsigned usersrc);

#endif
