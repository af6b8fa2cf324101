"""Turning a run's records into tables, figures and a report."""
