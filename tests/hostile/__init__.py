"""Reliability tests: hostile."""
