"""Internal modules of effecthost. Nothing here is public API; import from ``effecthost``."""
