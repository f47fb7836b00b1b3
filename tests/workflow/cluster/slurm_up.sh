#!/usr/bin/env bash
# A real one-node SLURM on loopback for the cluster test (Debian: slurm-wlm + munge, as root).
# Usage: tests/workflow/cluster/slurm_up.sh STATE_DIR. Writes STATE_DIR/slurm.conf (export SLURM_CONF to use it)
# and STATE_DIR/pids (the daemons this script started; slurm_down.sh stops exactly those).
set -euo pipefail
state=$(realpath -m "${1:?usage: slurm_up.sh STATE_DIR}")
mkdir -p "$state"/{spool,ctld,log,run}
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$state/log/apt.log"
fi
host=$(hostname -s)
: >"$state/pids"

# munge: the package made /etc/munge/munge.key; munged runs as the munge user, on a socket of our own
# in a folder it can reach (the state folder may sit under a private temporary directory).
munge_dir=$(mktemp -d /tmp/dcgan-munge.XXXXXX)
chmod 755 "$munge_dir"
chown munge:munge "$munge_dir"
echo "$munge_dir" >"$state/munge_dir"
runuser -u munge -- /usr/sbin/munged --socket="$munge_dir/munge.socket" --pid-file="$munge_dir/munged.pid" \
    --log-file="$munge_dir/munged.log" --seed-file="$munge_dir/munged.seed"
for _ in $(seq 50); do [ -s "$munge_dir/munged.pid" ] && break; sleep 0.1; done
cat "$munge_dir/munged.pid" >>"$state/pids"

# Two fake GPUs: character devices, as SLURM 22.05 insists.
for i in 0 1; do [ -e "$state/gpu$i" ] || mknod "$state/gpu$i" c 1 3; done
node=$(slurmd -C | head -1)
cat >"$state/slurm.conf" <<CONF
ClusterName=dcgan-test
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$munge_dir/munge.socket
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/pgid
TaskPlugin=task/none
ReturnToService=2
MinJobAge=300
GresTypes=gpu
$node NodeAddr=127.0.0.1 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$host Name=gpu File=$state/gpu[0-1]" >"$state/gres.conf"
# Job steps (srun inside a job) read the default path: snakemake's jobstep plugin drops SLURM_CONF.
if [ -e /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" != "$state/slurm.conf" ]; then
    echo "slurm_up: /etc/slurm/slurm.conf exists: this machine has a SLURM of its own; not touching it" >&2
    exit 1
fi
mkdir -p /etc/slurm
ln -sfn "$state/slurm.conf" /etc/slurm/slurm.conf
export SLURM_CONF="$state/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$state/run/slurmctld.pid" ] && break; sleep 0.1; done
cat "$state/run/slurmctld.pid" >>"$state/pids"
slurmd -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$state/run/slurmd.pid" ] && break; sleep 0.1; done
cat "$state/run/slurmd.pid" >>"$state/pids"
for _ in $(seq 100); do
    if sinfo -h -N -o %t 2>/dev/null | grep -qx idle; then
        echo "slurm up: node $host idle; export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "slurm_up: node did not become idle; see $state/log" >&2
exit 1
