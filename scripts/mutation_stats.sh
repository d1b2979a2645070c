#!/usr/bin/env bash
# Mutation testing of the benchmark's statistics: mutmut (pyproject.toml [tool.mutmut]) changes
# research/leaderboard/{budget,analysis,aggregate}.py and research/report/stats.py one mutation
# at a time and runs the fast statistics tests that reach the changed function; a mutant no test
# fails on survives.
# One mutant at a time on one thread, about 25 minutes on 2 busy cores:
#
#   pip install -e ".[dev]" && scripts/mutation_stats.sh
#
# Survivors that change nothing a statistic computes are listed, each with the reason, in
# scripts/mutation_stats_equivalent.txt; the script fails if any other mutant survives.
# mutmut's working copy (mutants/) is rebuilt on every run; `mutmut show NAME` prints a mutant.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf mutants
export OMP_NUM_THREADS=1
mutmut run --max-children 1 >/dev/null 2>&1 || true  # its verdicts are read back below
mutmut results --all true >mutants/results.txt
total=$(grep -c ': ' mutants/results.txt || true)
killed=$(grep -c ': killed$' mutants/results.txt || true)
if [ "$total" -eq 0 ]; then
    echo "error: mutmut made no mutants (run 'mutmut run' to see why)" >&2
    exit 2
fi
grep -v ': killed$' mutants/results.txt | sed 's/^ *//; s/: .*//' | sort >mutants/left.txt
grep '^research' scripts/mutation_stats_equivalent.txt | cut -d' ' -f1 | sort >mutants/equivalent.txt
explained=$(comm -12 mutants/left.txt mutants/equivalent.txt | wc -l)
echo "generated $total, killed $killed, survived $((total - killed)) (equivalent, explained: $explained)"
unexplained=$(comm -23 mutants/left.txt mutants/equivalent.txt)
if [ -n "$unexplained" ]; then
    echo "error: survived and not explained in scripts/mutation_stats_equivalent.txt:" >&2
    grep -F -f <(echo "$unexplained") mutants/results.txt >&2
    exit 1
fi
# The docs include the counts from this file (scripts/docs/measured/, as the benchmarks' tables).
cat >scripts/docs/measured/mutation_stats.md <<TABLE
<!-- measured by \`scripts/mutation_stats.sh\` on $(date -u +%F): rerun it to update this file -->

| mutants generated | killed by a test | survived, each explained as equivalent |
|---:|---:|---:|
| $total | $killed | $explained |
TABLE
