"""`python -m research.report.benchmark BENCHMARK_DIR`, the command the README documents for
rebuilding a benchmark's report: the report itself is `research.leaderboard`'s."""

from __future__ import annotations

import sys

from research.leaderboard.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
