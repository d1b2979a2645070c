"""Run records: results.json, metric history, W&B set-up, provenance."""
