#!/usr/bin/env bash
# Stop exactly the daemons slurm_up.sh started (their PIDs in STATE_DIR/pids), nothing else.
set -uo pipefail
state=$(realpath -m "${1:?usage: slurm_down.sh STATE_DIR}")
[ -f "$state/pids" ] || exit 0
while read -r pid; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
done <"$state/pids"
for _ in $(seq 50); do
    alive=0
    while read -r pid; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done <"$state/pids"
    [ $alive = 0 ] && break
    sleep 0.1
done
rm -f "$state/pids"
[ -f "$state/munge_dir" ] && rm -rf "$(cat "$state/munge_dir")" && rm -f "$state/munge_dir"
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$state/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
