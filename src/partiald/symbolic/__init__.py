"""Formulas: parsing, canonical simplification, printing and explanations of exact derivatives."""
