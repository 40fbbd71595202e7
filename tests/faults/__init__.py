"""Reliability tests: faults."""
