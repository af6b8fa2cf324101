"""A local stand-in for GitHub's cache service that behaves like ``actions/cache``."""
