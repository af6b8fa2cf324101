"""The subset of GitHub Actions that caching jobs use: parse a workflow, evaluate expressions,
run the built-in actions, run a job."""
