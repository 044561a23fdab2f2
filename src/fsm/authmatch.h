/* Authority profiles: generic names and which of several matching profiles
 * applies (docs/security.md "Authority records"). Pure functions, no state.
 *
 * A profile names objects as IBM MQ's generic profiles do:
 *   ?   exactly one character, not '.'
 *   *   zero or more characters within one qualifier (a qualifier is the
 *       text between dots)
 *   **  zero or more whole qualifiers; at most once in a profile, and only
 *       as a whole qualifier ("A.**", "**.B", "A.**.B", "**")
 * A profile without wildcards names one object exactly. Names are compared
 * byte for byte (MQ names are case sensitive). */
#ifndef QSG_FSM_AUTHMATCH_H
#define QSG_FSM_AUTHMATCH_H

#include <stdbool.h>

#define AUTH_PROFILE_MAX 48 /* MQ object name length */

/* The profile is well formed (1..AUTH_PROFILE_MAX characters of the MQ
 * name set plus the wildcards above; no empty qualifier; "**" at most once
 * and alone in its qualifier). */
bool authmatch_valid(const char *profile);
/* NULL when the profile is well formed, else why not ("has an empty
 * qualifier ..."), for the refusal's text. */
const char *authmatch_why(const char *profile);
/* The profile has a wildcard. */
bool authmatch_generic(const char *profile);
/* name is one of the objects the profile names. */
bool authmatch(const char *profile, const char *name);
/* Which of two profiles that both match a name is more specific: < 0 when
 * a is, > 0 when b is, 0 only when they are equal. A profile without
 * wildcards beats any generic one; otherwise the profiles are compared
 * from the left and the first difference decides: a literal character
 * beats '?', which beats '*', which beats "**"; a longer literal run wins
 * (its wildcard comes later); then the longer profile; then byte order (so
 * that the choice never depends on the order records were defined). */
int authmatch_cmp(const char *a, const char *b);

#endif
