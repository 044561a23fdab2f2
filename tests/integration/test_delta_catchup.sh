#!/usr/bin/env bash
# test_catchup.sh with [raft] snapshot_delta = on: the wiped member installs
# a delta snapshot whose base file it lacks, fetches the base from the
# leader over the member port (FETCH_BASE, 1 MiB checksummed chunks,
# resumable), restores base + delta, then fetches the bodies as usual and
# serves all of them as the leader (docs/catchup.md "Base files").
# Ports: members 31001.., Raft 31101.., HTTP 31091.. (QSG_PORT_BASE 31000).
export QSG_PORT_BASE=31000
export CATCHUP_DELTA=on
. "$(dirname "$0")/test_catchup.sh"
