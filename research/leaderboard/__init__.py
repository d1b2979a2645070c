"""The benchmark's report, from its folder alone: load (benchmark.json, the tuning studies, the
final runs) -> analysis (budget curves, the leader at k, tuned vs defaults, aggregates across
workloads, time to target) -> output (CSV tables, summary.md, targets.yaml, report.html),
figures and a W&B report spec. `python -m research.leaderboard BENCHMARK_DIR` is the entry
point; it draws on `research.report` for the statistics over seeds, the HTML and the figures'
style."""
