"""ci-cache-bench: measure the ways of caching Python dependencies in GitHub Actions."""
