#!/usr/bin/env bash
# Run a reproduction (a multirun of conf/experiment/NAME.yaml, or of every experiment in
# conf/experiment/NAME/) and build its report.
#
#   scripts/reproduce.sh NAME [--full]
#
# Runs land in $REPRODUCTIONS_DIR/NAME/<fast|full>/<experiment>/ (default ./reproductions) and
# the report in .../<experiment>/report/ (report.html, figures, summary.md). The fast tier is
# NAME.yaml, the full tier NAME_full.yaml. Extra Hydra overrides go in $OVERRIDES.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
experiments="$repo/conf/experiment"

available() {
  find "$experiments" -mindepth 1 -maxdepth 1 \( -type d -o -name '*.yaml' \) ! -name '*_full.yaml' \
    -printf '%f\n' | sed 's/\.yaml$//' | sort | paste -sd ' '
}

if [[ $# -lt 1 || $# -gt 2 || ( $# -eq 2 && $2 != --full ) ]]; then
  echo "usage: scripts/reproduce.sh NAME [--full]; NAME is one of: $(available)" >&2
  exit 2
fi
name=$1
tier=fast
suffix=""
if [[ ${2:-} == --full ]]; then
  tier=full
  suffix=_full
fi

if [[ -f "$experiments/$name.yaml" ]]; then
  configs=("$name")
elif [[ -d "$experiments/$name" ]]; then
  configs=()
  for file in "$experiments/$name"/*.yaml; do
    [[ $file == *_full.yaml ]] || configs+=("$name/$(basename "$file" .yaml)")
  done
else
  echo "error: unknown reproduction '$name': choose one of: $(available)" >&2
  exit 2
fi

out="${REPRODUCTIONS_DIR:-reproductions}/$name/$tier"
if [[ -e $out ]]; then
  echo "error: $out already exists: move it away (its results are kept) or set REPRODUCTIONS_DIR" >&2
  exit 2
fi

for config in "${configs[@]}"; do
  experiment="$config$suffix"
  if [[ ! -f "$experiments/$experiment.yaml" ]]; then
    echo "error: reproduction '$name' has no $tier tier (conf/experiment/$experiment.yaml)" >&2
    exit 2
  fi
  dir="$out/${config#"$name/"}"
  [[ ${#configs[@]} -gt 1 ]] || dir="$out"
  echo "== $experiment -> $dir"
  # shellcheck disable=SC2086  # OVERRIDES is a list of Hydra overrides
  python -m research.train -m "experiment=$experiment" "hydra.sweep.dir=$dir" ${OVERRIDES:-}
  python -m research.report "$dir" --out "$dir/report"
done
