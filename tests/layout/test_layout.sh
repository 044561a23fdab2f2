#!/usr/bin/env bash
# The house rules of the source layout (docs/architecture.md), checked on the
# built tree; each rule prints what breaks it:
#  1. no dependency cycle between source files (scripts/modgraph on the
#     objects the Makefile lists);
#  2. no .c or .h file under src/ or raft-glue/ over MAX_LINES lines;
#  3. only raft-glue calls libraft: no other object has an undefined raft_*
#     symbol;
#  4. the wire protocols (src/proto/proto.h, src/chan/chproto.h) and the
#     client library (src/libqsg) never include a src/fsm header, directly or
#     through another header.
# Needs no network and starts no process that outlives it.
set -euo pipefail
: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
MAX_LINES=1250
failed=0
bad() {
	echo "FAIL: $*"
	failed=1
}

# 1. Cycles.
echo "== 1. dependency cycles (scripts/modgraph)"
rc=0
"$top_srcdir/scripts/modgraph" "$top_builddir" || rc=$?
case $rc in
0) ;;
1) bad "dependency cycles between source files (above)" ;;
*) bad "scripts/modgraph failed (exit status $rc)" ;;
esac

# 2. File length.
echo "== 2. files over $MAX_LINES lines"
while read -r n f; do
	[ "$f" = total ] && continue
	if [ "$n" -gt "$MAX_LINES" ]; then
		bad "${f#"$top_srcdir"/}: $n lines (at most $MAX_LINES)"
	fi
done < <(find "$top_srcdir/src" "$top_srcdir/raft-glue" -name '*.[ch]' -type f -print0 |
	sort -z | xargs -0 wc -l)

# 3. libraft outside raft-glue.
echo "== 3. raft_* references outside raft-glue"
objects=$("$top_srcdir/scripts/modgraph" --objects "$top_builddir")
[ -n "$objects" ] || bad "scripts/modgraph --objects listed no object"
nobj=0
while read -r o; do
	nobj=$((nobj + 1))
	rel=${o#"$top_builddir"/}
	case $rel in raft-glue/*) continue ;; esac
	syms=$(nm -u "$o" | awk '$2 ~ /^raft_/ { print $2 }' | sort -u | paste -sd' ')
	[ -z "$syms" ] || bad "$rel calls libraft: $syms"
done <<<"$objects"
echo "$nobj objects examined"

# 4. No src/fsm header in the protocols and the client library.
echo "== 4. src/fsm headers in proto.h, chproto.h and src/libqsg"
src=$(cd "$top_srcdir" && pwd -P)
# The file #include "name" in file means: next to it, then on the include
# path of the build (-I src, -I top, -I src/common for the client side).
resolve() { # FILE NAME
	local d
	for d in "$(dirname "$1")" "$src/src" "$src" "$src/src/common"; do
		if [ -f "$d/$2" ]; then
			realpath "$d/$2"
			return
		fi
	done
}
declare -A seen=()
# Walk the quoted includes of FILE; CHAIN is how we got there.
walk() { # FILE CHAIN
	local f=$1 chain=$2 name inc
	[ -z "${seen[$f]:-}" ] || return 0
	seen[$f]=1
	while read -r name; do
		inc=$(resolve "$f" "$name")
		[ -n "$inc" ] || continue
		case $inc in
		"$src"/src/fsm/*)
			bad "$chain -> ${inc#"$src"/} (a src/fsm header)"
			;;
		*) walk "$inc" "$chain -> ${inc#"$src"/}" ;;
		esac
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
}
for f in "$src/src/proto/proto.h" "$src/src/chan/chproto.h" "$src"/src/libqsg/*.[ch]; do
	[ -f "$f" ] || {
		bad "${f#"$src"/}: missing"
		continue
	}
	seen=()
	walk "$f" "${f#"$src"/}"
done

if [ "$failed" -ne 0 ]; then
	echo "test_layout: FAILED (see FAIL lines above)"
	exit 1
fi
echo "test_layout: all rules hold"
