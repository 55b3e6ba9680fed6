"""Code generation from Graphs to straight-line NumPy source."""
