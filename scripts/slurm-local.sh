#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the SLURM launcher tests and bench/sweep_speed.py
# (recipe: shared/notes/local-slurm.md).
#
#   scripts/slurm-local.sh start    # install slurm-wlm + munge if missing (root, apt-get), start munged, slurmctld and
#                                   # slurmd, wait until `sinfo` shows the node idle; a no-op when already running
#   scripts/slurm-local.sh stop     # stop the daemons this script started (by the pids in their pid files)
#   scripts/slurm-local.sh status   # say whether it runs; exit 0 if it does, 3 if not
#
# Everything lives in a scratch folder: $SLURM_LOCAL_DIR (default /tmp/srl-toolbox-slurm) holds slurm.conf, the state,
# spool, pid and log files. Clients (sbatch, squeue, submitit) find the cluster with `export SLURM_CONF=<dir>/slurm.conf`
# (start prints it); /etc/slurm/slurm.conf is made a link to it when that file does not exist.
# Exit status: 0 ok, 1 cannot start (not root, no apt-get, install failed, daemons failed; the reason is printed),
# 2 usage, 3 (status) not running.
set -uo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/srl-toolbox-slurm}
CONF=$DIR/slurm.conf
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}
HOST=$(hostname -s)
export SLURM_CONF=$CONF

die() { echo "slurm-local: cannot start: $*" >&2; exit 1; }
say() { echo "slurm-local: $*"; }

# The pid in a pid file, if that process is alive.
live_pid() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

node_state() { sinfo -h -n "$HOST" -o %T 2>/dev/null | head -n1; }

install_packages() {
  local missing=()
  command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v sinfo >/dev/null 2>&1 \
    || missing+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "${missing[*]} not installed and not root (install them: apt-get install slurm-wlm munge)"
  command -v apt-get >/dev/null 2>&1 || die "${missing[*]} not installed and no apt-get on this system"
  say "installing ${missing[*]} (apt-get, about a minute)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$DIR/apt.log" 2>&1 \
    || die "apt-get install ${missing[*]} failed (see $DIR/apt.log)"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    return 0  # a munged runs already (ours from an earlier start, or the system's): use it
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then mungekey --create >/dev/null 2>&1; fi
    [ -s /etc/munge/munge.key ] || die "no /etc/munge/munge.key (reinstall munge)"
    chown munge:munge /etc/munge/munge.key 2>/dev/null; chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
  chmod 755 /run/munge
  su -s /bin/sh munge -c /usr/sbin/munged >"$DIR/munged.out" 2>&1 || die "munged did not start: $(cat "$DIR/munged.out")"
  for _ in $(seq 50); do munge_works && break; sleep 0.1; done
  munge_works || die "munge -n | unmunge fails after starting munged"
  cp /run/munge/munged.pid "$DIR/munged.pid" 2>/dev/null  # ours: stop ends it
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster on localhost ($HOST, $cpus CPUs).
ClusterName=srl-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MpiDefault=none
# Jobs run with the nice value of the sbatch that submitted them (so `nice -n 10 python main.py -m ...` stays nice).
PropagatePrioProcess=1
# A requeued job is held for no extra time, and gets 30 s between SIGTERM and SIGKILL to checkpoint.
KillWait=30
MinJobAge=300
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
NodeName=$HOST CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  if [ ! -e /etc/slurm/slurm.conf ] && [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/slurm && ln -s "$CONF" /etc/slurm/slurm.conf
  fi
}

start() {
  mkdir -p "$DIR" || die "cannot create $DIR"
  if live_pid "$DIR/slurmctld.pid" >/dev/null && live_pid "$DIR/slurmd.pid" >/dev/null && [ "$(node_state)" != "" ]; then
    say "already running (node $HOST: $(node_state)); export SLURM_CONF=$CONF"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd and munged are started as system daemons)"
  install_packages
  start_munge
  write_conf
  if ! live_pid "$DIR/slurmctld.pid" >/dev/null; then
    slurmctld -f "$CONF" -i >"$DIR/log/slurmctld.out" 2>&1 \
      || die "slurmctld failed: $(tail -n5 "$DIR/log/slurmctld.out" "$DIR/log/slurmctld.log" 2>/dev/null)"
  fi
  if ! live_pid "$DIR/slurmd.pid" >/dev/null; then
    slurmd -f "$CONF" >"$DIR/log/slurmd.out" 2>&1 \
      || die "slurmd failed: $(tail -n5 "$DIR/log/slurmd.out" "$DIR/log/slurmd.log" 2>/dev/null)"
  fi
  local state=""
  for _ in $(seq 100); do
    state=$(node_state)
    case "$state" in idle | mixed | allocated) break ;; esac
    sleep 0.3
  done
  case "$state" in
    idle | mixed | allocated) ;;
    *)
      scontrol update nodename="$HOST" state=resume >/dev/null 2>&1  # a node left "down" by an earlier run
      sleep 1; state=$(node_state)
      case "$state" in idle | mixed | allocated) ;;
        *) die "node $HOST is '${state:-unknown}', not idle (logs: $DIR/log/)" ;; esac ;;
  esac
  say "running: node $HOST $state, partition debug; export SLURM_CONF=$CONF"
}

stop_pid_file() {
  local pid
  if pid=$(live_pid "$1"); then
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    say "stopped $2 (pid $pid)"
  fi
  rm -f "$1"
}

stop() {
  [ -d "$DIR" ] || { say "not running"; return 0; }
  stop_pid_file "$DIR/slurmd.pid" slurmd
  stop_pid_file "$DIR/slurmctld.pid" slurmctld
  local pid
  if pid=$(live_pid "$DIR/munged.pid"); then
    if [ "$(cat /run/munge/munged.pid 2>/dev/null)" = "$pid" ]; then
      stop_pid_file "$DIR/munged.pid" munged
    fi
  fi
  rm -f "$DIR/munged.pid"
  [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ] && rm -f /etc/slurm/slurm.conf
  return 0
}

status() {
  local ctld slurmd
  ctld=$(live_pid "$DIR/slurmctld.pid") || ctld=""
  slurmd=$(live_pid "$DIR/slurmd.pid") || slurmd=""
  if [ -n "$ctld" ] && [ -n "$slurmd" ]; then
    say "running: slurmctld pid $ctld, slurmd pid $slurmd, node $HOST $(node_state); export SLURM_CONF=$CONF"
    squeue 2>/dev/null
    return 0
  fi
  say "not running${ctld:+ (slurmctld pid $ctld)}${slurmd:+ (slurmd pid $slurmd)}"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
