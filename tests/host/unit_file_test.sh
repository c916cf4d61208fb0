#!/usr/bin/env bash
# The systemd unit stays hardened: systemd-analyze's offline security
# exposure must not rise above the recorded level (docs/supervisor.md), and
# the directives the supervisor depends on must be there.
set -euo pipefail
unit=$1
max=${2:-4.0}
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)
level=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || { echo "$out"; echo "unit_file: no exposure level printed"; exit 1; }
echo "exposure level $level (limit $max)"
awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }' || { echo "$out" | grep '✗'; echo "unit_file: exposure $level > $max"; exit 1; }
for d in Type=notify WatchdogSec= KillMode=mixed NoNewPrivileges=yes ProtectSystem=strict \
	RestrictAddressFamilies=AF_UNIX SystemCallArchitectures=native; do
	grep -q "^$d" "$unit" || { echo "unit_file: $d missing"; exit 1; }
done
# What vm.systemd_unit found the supervisor cannot start without: the
# calls its sandboxes are built with, and capabilities after exec.
filter=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit" | tr ' ' '\n')
for c in seccomp landlock_create_ruleset landlock_add_rule landlock_restrict_self; do
	grep -qx "$c" <<<"$filter" || { echo "unit_file: SystemCallFilter= lacks $c"; exit 1; }
done
if grep -q '^SecureBits=.*noroot' "$unit" && ! grep -q '^AmbientCapabilities=.' "$unit"; then
	echo "unit_file: SecureBits=noroot without AmbientCapabilities= leaves the supervisor no capability"
	exit 1
fi
echo ok
