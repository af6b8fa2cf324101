"""The fake hosted runner: a fresh home, workspace and temp per trial, and how steps are
measured."""
