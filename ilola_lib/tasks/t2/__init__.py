"""T2: MPE simple_spread (mpe2) with independent PPO learners."""
