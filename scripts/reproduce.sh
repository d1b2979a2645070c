#!/usr/bin/env bash
# Run a reproduction (a multirun of conf/experiment/NAME.yaml, or of every experiment in
# conf/experiment/NAME/) and build its report.
#
#   scripts/reproduce.sh NAME [--full]
#
# Runs land in $REPRODUCTIONS_DIR/NAME/<fast|full>/<experiment>/ (default ./reproductions) and
# the report in .../<experiment>/report/ (report.html, figures, summary.md). The fast tier is
# NAME.yaml, the full tier NAME_full.yaml. Extra Hydra overrides go in $OVERRIDES.
#
# Python: $PYTHON if set (e.g. PYTHON=.venv/bin/python); otherwise the first of python3,
# python and this checkout's .venv/bin/python that has the project and its packages installed
# (an active virtual environment puts its own first on PATH).
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

# The project's packages are found without importing them (torch alone takes seconds).
has_project='import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in ("research", "hydra", "torch", "optuna")))'
if [[ -n ${PYTHON:-} ]]; then
  candidates=("$PYTHON")
else
  candidates=(python3 python "$repo/.venv/bin/python")
fi
python=""
for candidate in "${candidates[@]}"; do
  if command -v "$candidate" > /dev/null && "$candidate" -c "$has_project" 2> /dev/null; then
    python=$candidate
    break
  fi
done
if [[ -z $python ]]; then
  echo "error: no Python with the project installed (tried ${candidates[*]}): activate its" \
    "virtual environment, or set PYTHON=/path/to/bin/python" >&2
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
  "$python" -m research.train -m "experiment=$experiment" "hydra.sweep.dir=$dir" ${OVERRIDES:-}
  "$python" -m research.report "$dir" --out "$dir/report"
done
