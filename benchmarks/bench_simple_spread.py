"""Env-steps per second of mpe2's simple_spread versus :class:`BatchedSimpleSpread`, in one run.

Run from the repository root: ``python -m benchmarks.bench_simple_spread [--num-envs 256]``.
One env-step is one joint step of all three agents in one environment; both envs get uniformly
random discrete actions and reset when their episodes end. Torch runs single-threaded by
default: at this batch size extra threads buy nothing, and on a busy machine their spin-waiting
made individual runs up to 20x slower.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ilola_lib.tasks.t2.pettingzoo_env import make_simple_spread
from ilola_lib.tasks.t2.simple_spread import NUM_ACTIONS, BatchedSimpleSpread


def mpe2_steps_per_second(num_steps: int, seed: int = 0) -> float:
    """Env-steps/s of one mpe2 parallel env over ``num_steps`` random-action steps."""
    env = make_simple_spread()
    env.reset(seed=seed)
    action_rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(num_steps):
        if not env.agents:
            env.reset()
        actions = action_rng.integers(0, NUM_ACTIONS, size=len(env.agents))
        env.step({agent: int(action) for agent, action in zip(env.agents, actions)})
    return num_steps / (time.perf_counter() - start)


def batched_steps_per_second(num_envs: int, num_calls: int, seed: int = 0) -> float:
    """Env-steps/s of ``BatchedSimpleSpread(num_envs)`` over ``num_calls`` batched steps."""
    env = BatchedSimpleSpread(num_envs)
    env.reset(seed=seed)
    action_rng = torch.Generator().manual_seed(seed)
    action_shape = (num_calls, num_envs, env.num_agents)
    all_actions = torch.randint(0, NUM_ACTIONS, action_shape, generator=action_rng)
    with torch.inference_mode():
        env.step(all_actions[0])  # warm-up
        start = time.perf_counter()
        for actions in all_actions:
            env.step(actions)
        elapsed = time.perf_counter() - start
    return num_envs * num_calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--mpe2-steps", type=int, default=5000)
    parser.add_argument("--batched-calls", type=int, default=500)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    mpe2_rate = mpe2_steps_per_second(args.mpe2_steps)
    batched_rate = batched_steps_per_second(args.num_envs, args.batched_calls)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"mpe2 simple_spread_v3 (1 env):        {mpe2_rate:12,.0f} env-steps/s")
    print(f"BatchedSimpleSpread ({args.num_envs} envs, float64): {batched_rate:12,.0f} env-steps/s")
    print(f"speed-up: {batched_rate / mpe2_rate:.1f}x")


if __name__ == "__main__":
    main()
