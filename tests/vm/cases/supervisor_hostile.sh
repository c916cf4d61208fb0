# shellcheck shell=bash source=tests/vm/lib.sh
# vlb-supervisord against children that attack it (forged and flooding log
# lines, a shut stderr, slow control clients, a back-end that ignores
# SIGTERM): tests/host/supervisor_hostile_test.sh, here because the
# supervisor scopes every adapter's control file on the real node.
. "$VLB_SRC/tests/vm/lib.sh"
vlb_load
"$VLB_SRC/tests/host/supervisor_hostile_test.sh" "$VLB_BUILD" "$VLB_NODE" || fail "hostile children"
vlb_unload
echo ok
