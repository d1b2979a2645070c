"""Configs before anything is built: checks with one-line errors, in-process composition.

checks: `validate`, every group's checks in turn; groups/: one module per config group, the
rules of its fields; rules: what a field may hold and the line that says so; split_sizes: the
samples each split gets, so that an empty split is refused; job: a config as its job will see
it; compose: the config `python -m research.train` would run, for scripts and tests;
benchmark_files: what a benchmark's folder holds, the one schema its runner and its report
read; group_options: a misspelled `group=option` on the command line, in one line;
unknown_key: a key the config does not have (`optimizer.lrr=0.1`), in one line."""
