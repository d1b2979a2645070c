#!/usr/bin/env bash
# A real PostgreSQL server and a real one-node SLURM cluster for the cluster tests and CI.
#
#   scripts/services.sh start postgres|slurm|all    start (idempotent), print the variables
#   scripts/services.sh stop  postgres|slurm|all    stop what `start` started
#   scripts/services.sh env   postgres|slurm|all    print the variables for running services
#   scripts/services.sh status postgres|slurm|all   exit 0 when they are running
#   scripts/services.sh --help                      this text
#
# Needs root and the Debian packages `postgresql`, `slurm-wlm`, `munge`. No systemd or cgroups:
# every daemon runs from a folder of its own (RESEARCH_SERVICES_DIR, /tmp/research-services),
# on ports of its own, so nothing collides with a system installation.
#
# PostgreSQL: role `research` (password RESEARCH_PG_PASSWORD, allowed to create databases) and a
# database `optuna`, over TCP on 127.0.0.1:RESEARCH_PG_PORT (5433) with password authentication.
# SLURM: partition `debug` on this host; clients need the printed SLURM_CONF.
set -euo pipefail

ROOT=${RESEARCH_SERVICES_DIR:-/tmp/research-services}
PG_PORT=${RESEARCH_PG_PORT:-5433}
PG_PASSWORD=${RESEARCH_PG_PASSWORD:-research-db-secret}
PG_BIN=${RESEARCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
SLURMCTLD_PORT=${RESEARCH_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${RESEARCH_SLURMD_PORT:-6818}
PG=$ROOT/postgres
SL=$ROOT/slurm

die() { echo "services.sh: $*" >&2; exit 1; }

alive() { [[ -f $1 ]] && kill -0 "$(head -n 1 "$1")" 2>/dev/null; }

stop_pid() {  # stop the daemon whose pid is in $1, waiting up to 10 s
  alive "$1" || return 0
  local pid; pid=$(head -n 1 "$1")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

pg_env() {
  echo "export RESEARCH_PG_URL=postgresql://research@127.0.0.1:$PG_PORT/optuna"
  echo "export RESEARCH_PG_PASSWORD=$PG_PASSWORD"
}

start_postgres() {
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL not installed (apt-get install -y postgresql)"
  mkdir -p "$PG" && chown postgres:postgres "$PG"
  if [[ ! -f $PG/data/PG_VERSION ]]; then
    echo "$PG_PASSWORD" > "$PG/pwfile" && chown postgres "$PG/pwfile"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --pwfile="$PG/pwfile" > "$PG/initdb.log"
    rm -f "$PG/pwfile"
  fi
  if ! alive "$PG/data/postmaster.pid"; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w \
      -o "-h 127.0.0.1 -p $PG_PORT -k $PG -c max_connections=300" start > /dev/null
  fi
  local psql=(runuser -u postgres -- psql -h "$PG" -p "$PG_PORT" -U postgres -qtAX -d postgres)
  if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='research'") ]]; then
    "${psql[@]}" -c "CREATE ROLE research LOGIN CREATEDB PASSWORD '$PG_PASSWORD'"
  fi
  if [[ -z $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='optuna'") ]]; then
    "${psql[@]}" -c "CREATE DATABASE optuna OWNER research"
  fi
}

stop_postgres() {
  if alive "$PG/data/postmaster.pid"; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG/data" -m fast -w stop > /dev/null
  fi
}

slurm_env() { echo "export SLURM_CONF=$SL/slurm.conf"; }

write_slurm_conf() {
  local host; host=$(hostname -s)
  cat > "$SL/slurm.conf" <<EOF
ClusterName=research
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=slurm
AuthType=auth/munge
AuthInfo=socket=$SL/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$SL/state
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/log/slurmctld.log
SlurmdLogFile=$SL/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=600
JobRequeue=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) CoresPerSocket=$(nproc) ThreadsPerCore=1 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_slurm() {
  [[ -x /usr/sbin/slurmctld && -x /usr/sbin/munged ]] \
    || die "SLURM not installed (apt-get install -y slurm-wlm munge)"
  mkdir -p "$SL"/{state,spool,log,munge}
  chown -R slurm:slurm "$SL"/{state,spool,log}
  chown munge:munge "$SL/munge" && chmod 755 "$SL/munge"
  write_slurm_conf
  if ! alive "$SL/munge/munged.pid"; then
    runuser -u munge -- /usr/sbin/munged --socket="$SL/munge/munge.socket" \
      --pid-file="$SL/munge/munged.pid" --log-file="$SL/munge/munged.log" \
      --seed-file="$SL/munge/munged.seed"
  fi
  export SLURM_CONF=$SL/slurm.conf
  alive "$SL/slurmctld.pid" || /usr/sbin/slurmctld
  alive "$SL/slurmd.pid" || /usr/sbin/slurmd
  for _ in $(seq 150); do  # the node registers within a few seconds
    if sinfo -h -o %t 2>/dev/null | grep -qx idle; then return 0; fi
    sleep 0.2
  done
  die "the SLURM node did not become idle; see $SL/log"
}

stop_slurm() {
  if alive "$SL/slurmctld.pid"; then SLURM_CONF=$SL/slurm.conf scancel --quiet --user=root || true; fi
  stop_pid "$SL/slurmd.pid"
  stop_pid "$SL/slurmctld.pid"
  stop_pid "$SL/munge/munged.pid"
}

running_postgres() { alive "$PG/data/postmaster.pid"; }
running_slurm() { alive "$SL/slurmctld.pid" && alive "$SL/slurmd.pid"; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
mistake() { echo "error: $*" >&2; exit 2; }

if [[ $# -eq 1 && ( $1 == -h || $1 == --help || $1 == help ) ]]; then usage; exit 0; fi
[[ $# -eq 2 ]] || mistake "usage: $0 start|stop|env|status postgres|slurm|all (--help says more)"
action=$1
case $2 in
  postgres | slurm) services=("$2") ;;
  all) services=(postgres slurm) ;;
  *) mistake "unknown service '$2': choose postgres, slurm or all" ;;
esac
case $action in
  start) for s in "${services[@]}"; do "start_$s"; done ;;
  stop) for s in "${services[@]}"; do "stop_$s"; done; exit 0 ;;
  env) ;;
  status) for s in "${services[@]}"; do "running_$s" || exit 1; done; exit 0 ;;
  *) mistake "unknown action '$action': choose start, stop, env or status" ;;
esac
for s in "${services[@]}"; do
  case $s in postgres) pg_env ;; slurm) slurm_env ;; esac
done
