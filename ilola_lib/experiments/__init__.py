"""Orchestration of each task: the functions the notebooks call."""
