#!/usr/bin/env bash
# Upload offline W&B runs to the cloud, each under a time limit: this script never hangs.
#
# Runs log to W&B offline by default (<run folder>/wandb/offline-run-*). Once online, upload them:
#
#   scripts/wandb_sync.sh multirun/2026-11-21/12-00-00          # one sweep
#   scripts/wandb_sync.sh outputs multirun                      # everything (the default)
#   scripts/wandb_sync.sh --dry-run multirun                    # list what would be uploaded
#   scripts/wandb_sync.sh multirun -- --project opt --entity me # extra args go to `wandb sync`
#
# Environment:
#   WANDB_SYNC_TIMEOUT          seconds allowed per run (default 300); then it is killed
#   WANDB_SYNC_CONNECT_TIMEOUT  seconds to wait for the W&B server to answer (default 5)
#   WANDB_BASE_URL              the W&B server (default https://api.wandb.ai)
#
# Exit status: 0 all uploaded; 1 some run failed or timed out; 2 usage error or no offline
# runs found; 3 the W&B server cannot be reached (nothing is attempted: `wandb sync` itself
# retries forever without a network).
set -uo pipefail

per_run="${WANDB_SYNC_TIMEOUT:-300}"
connect="${WANDB_SYNC_CONNECT_TIMEOUT:-5}"
base_url="${WANDB_BASE_URL:-https://api.wandb.ai}"
dry_run=0
folders=()
extra=()
while (($#)); do
  case "$1" in
    --dry-run) dry_run=1 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) folders+=("$1") ;;
  esac
  shift
done
((${#folders[@]})) || folders=(outputs multirun)

runs=()
for folder in "${folders[@]}"; do
  [[ -d "$folder" ]] || { echo "warning: $folder is not a folder, skipped" >&2; continue; }
  while IFS= read -r -d '' run; do runs+=("$run"); done \
    < <(find "$folder" -type d -name 'offline-run-*' -prune -print0 | sort -z)
done
if ((${#runs[@]} == 0)); then
  echo "error: no offline W&B runs (offline-run-*) under ${folders[*]}" >&2
  exit 2
fi

if ((dry_run)); then
  printf '%s\n' "${runs[@]}"
  echo "${#runs[@]} offline run(s) would be uploaded to $base_url"
  exit 0
fi

# A bounded TCP connect first: without a network `wandb sync` would retry forever.
hostport="${base_url#*://}"
hostport="${hostport%%/*}"
host="${hostport%%:*}"
port="${hostport##*:}"
[[ "$port" == "$hostport" ]] && { [[ "$base_url" == https* ]] && port=443 || port=80; }
if ! timeout "$connect" bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
  echo "error: cannot reach $host:$port within ${connect}s: ${#runs[@]} run(s) stay offline" >&2
  exit 3
fi

failed=0
for run in "${runs[@]}"; do
  timeout --kill-after=10 "$per_run" wandb sync "${extra[@]}" "$run" </dev/null
  status=$?
  if ((status == 124 || status == 137)); then
    echo "error: $run: no upload within ${per_run}s, stopped" >&2
    failed=$((failed + 1))
  elif ((status != 0)); then
    echo "error: $run: wandb sync exited with $status" >&2
    failed=$((failed + 1))
  fi
done
echo "$((${#runs[@]} - failed)) of ${#runs[@]} run(s) uploaded"
((failed == 0)) || exit 1
