"""Peers' own published test suites, run against partiald through adapters."""
