"""Paper-style comparison of runs: discover -> load -> group -> statistics -> figures -> writers.

`python -m research.report RUN_OR_SWEEP_DIR... --out report/` is the entry point; each step is
one module, and data flows one way through them. Each sweep is reported on its own (`sweeps`,
`index`) unless `--pool` merges them.
"""
