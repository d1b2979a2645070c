"""Configs before anything is built: checks with one-line errors, in-process composition."""
