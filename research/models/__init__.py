"""Models, each built from a DataSpec and sized by its config."""
