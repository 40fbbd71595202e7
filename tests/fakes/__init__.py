"""Test doubles that run real servers on 127.0.0.1 (no mocks of the code under test)."""
