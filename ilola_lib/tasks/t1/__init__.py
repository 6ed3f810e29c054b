"""T1: the 2-agent GridWorld Markov game with exact MA-SPI learners (and matched gradient learners)."""
