"""Generic building blocks with no task in them: traces, policy families, PPO, seeds, I/O, parallel jobs."""
