"""One folder per task: its environment and features, its learners, and the stage functions its notebooks call."""
