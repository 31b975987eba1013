#!/usr/bin/env bash
# Brings up a local single-node Slurm cluster (Debian's slurmctld, slurmd, munge) without
# systemd, as root. Idempotent: daemons already running are left alone. About 1-2 s.
# Settings and traps are those measured in the project's notes (see README "Running on a Slurm
# cluster"): EnforcePartLimits=ALL so a job asking more than the node has is refused at sbatch
# time instead of pending forever; a 1 s scheduler tick so submit -> start takes ~0.4 s.
# Usage: bash scripts/slurm-up.sh        (bash scripts/slurm-down.sh stops it)
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "slurm-up: must run as root (the daemons run as root here)" >&2; exit 1; fi
for bin in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch; do
  if [ ! -x "$bin" ]; then
    echo "slurm-up: $bin missing; install: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge" >&2
    exit 1
  fi
done
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# munge: /run/munge does not exist without systemd.
install -d -o munge -g munge -m 0755 /run/munge
if ! alive /run/munge/munged.pid; then
  [ -f /etc/munge/munge.key ] || { /usr/sbin/mungekey --create 2>/dev/null || /usr/sbin/create-munge-key -f; chown munge:munge /etc/munge/munge.key; }
  runuser -u munge -- /usr/sbin/munged
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
real_mb=$(( mem_mb * 9 / 10 ))
conf=/etc/slurm/slurm.conf
state=/var/lib/peftlab-slurm
install -d -m 0755 /etc/slurm "$state/ctld" "$state/d" /var/log/slurm /run/slurm
new=$(cat <<CONF
# Written by peftlab scripts/slurm-up.sh: a single-node test cluster.
ClusterName=peftlab
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
MinJobAge=300
EnforcePartLimits=ALL
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$new" ]; then printf '%s\n' "$new" > "$conf"; changed=1; fi
if [ "$changed" = 1 ]; then
  # A new configuration: restart what runs so it is read.
  for p in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid; do alive "$p" && kill "$(cat "$p")" && sleep 0.5 || true; done
fi
alive /run/slurm/slurmctld.pid || /usr/sbin/slurmctld 2>/dev/null
alive /run/slurm/slurmd.pid || /usr/sbin/slurmd 2>/dev/null
# Ready when the node answers idle (or mixed/allocated if jobs run already).
for _ in $(seq 100); do
  st=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  case "$st" in idle*|mix*|alloc*) echo "slurm-up: node $host $st ($cpus CPUs, ${real_mb} MB)"; exit 0 ;; down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;; esac
  sleep 0.1
done
echo "slurm-up: the node did not become idle; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
exit 1
