"""The optimizer benchmark protocol: config -> tuning studies through the project's sweeper
-> seed re-runs of the tuned best and the defaults -> statistics (in `research.leaderboard`)."""
