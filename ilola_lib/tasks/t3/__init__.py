"""T3: MultiWalker (PettingZoo SISL, real Box2D) with independent Gaussian PPO walkers."""
