"""Lightning callbacks; each module imports what it needs (keep heavy imports lazy)."""
