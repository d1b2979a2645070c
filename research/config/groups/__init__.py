"""One module per config group: the rules of its fields, and `check(cfg)` for the composed
config. Every module is torch-free, so the checks run before anything heavy is imported."""
