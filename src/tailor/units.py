"""Unit constants shared across the package (one definition each)."""

SECONDS_PER_DAY = 86_400
"""Seconds in a day: timestamps are Unix seconds, ages and half-lives are in days."""
