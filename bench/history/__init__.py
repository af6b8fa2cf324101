"""Replaying a repository's git history through each strategy's cache keys (``bench history``)."""
