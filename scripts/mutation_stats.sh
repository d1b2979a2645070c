#!/usr/bin/env bash
# Mutation testing of the benchmark's statistics: mutmut (pyproject.toml [tool.mutmut]) mutates
# research/report/{budget,bench_analysis,stats,aggregate}.py one change at a time and runs the
# fast statistics tests that reach each changed function; a mutant no test fails on survives.
# One mutant at a time on one thread (about 20 minutes on 2 busy cores):
#
#   pip install -e ".[dev]" && scripts/mutation_stats.sh
#
# Survivors that no test can kill because they change nothing a statistic reports are listed,
# with the reason, in scripts/mutation_stats_equivalent.txt; the script fails if any other
# mutant survives. mutmut's own files (mutants/) are rebuilt on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf mutants
export OMP_NUM_THREADS=1
mutmut run --max-children 1 >/dev/null 2>&1 || true
mutmut results --all true >mutants/results.txt
grep -c ': ' mutants/results.txt | xargs echo "generated:"
grep -c ': killed$' mutants/results.txt | xargs echo "killed:"
grep -E ': (survived|no tests|timeout|suspicious|segfault)' mutants/results.txt \
    | cut -d: -f1 | sort >mutants/left.txt || true
grep -v '^#' scripts/mutation_stats_equivalent.txt | cut -d' ' -f1 | sed '/^$/d' | sort \
    >mutants/equivalent.txt
echo "equivalent (explained): $(comm -12 mutants/left.txt mutants/equivalent.txt | wc -l)"
unexplained=$(comm -23 mutants/left.txt mutants/equivalent.txt)
if [ -n "$unexplained" ]; then
    echo "survived, not explained:" && echo "$unexplained" && exit 1
fi
