"""The study user attributes lrtune reads and writes: a module of its own, with no imports,
so that listing studies does not load what defines and runs them (torch)."""

ATTR = "lrtune"
"""The study user attribute that holds the settings."""
