"""Data files of the cooperation classifier (loaded with importlib.resources)."""
