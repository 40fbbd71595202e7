"""Reliability tests: replicas."""
