"""Transformations from Graph to Graph: forward mode, reverse mode."""
