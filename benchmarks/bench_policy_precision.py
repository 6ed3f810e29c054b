"""What float32 would buy the policy-space fits: the Stage B objective (a CMA-ES generation) and the gradient an
L-BFGS step takes, in float64 (as the pipeline computes them) and in float32, on the same candidates, in one run.

Run from the repository root: ``python -m benchmarks.bench_policy_precision [--pairs 12] [--generations 3]``.

Uses the coupled GPOMDP learner model on the first ``--pairs`` fit pairs of T2 seed 0's trace
(``data/t2/seed_0/trace.npz``), one thread. Prints the seconds per generation and per gradient in each
precision, their ratios, and how far the float32 losses and gradients are from the float64 ones (relative to
the loss, and to the gradient's norm). The pipeline is unchanged: this measures a lever, it does not pull it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_t2 import random_populations, stage_b_problem
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.inverse.learner_models import GradientLearnerModel
from ilola_lib.inverse.network_policy_space import CategoricalNetworkDivergence
from ilola_lib.inverse.policy_fit import policy_loss
from ilola_lib.pipeline.config import load_params


def in_precision(model: GradientLearnerModel, divergence: CategoricalNetworkDivergence, dtype: torch.dtype):
    """The same learner model and divergence with every tensor in ``dtype``."""
    return (GradientLearnerModel(model.theta.to(dtype), model.jacobians.to(dtype), model.lola.to(dtype), coupled=True),
            CategoricalNetworkDivergence(divergence.templates, divergence.observations,
                                         divergence.next_params.to(dtype), divergence.observed_log_probs.to(dtype)))


def loss_function(model, divergence, num_agents: int, q: int, dtype: torch.dtype):
    """``x [P, N·q + n_ν] → L [P]`` (float64 numpy), computed in ``dtype``."""
    def losses(x) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=dtype)
        return policy_loss(model, divergence, x[:, :num_agents * q].reshape(-1, num_agents, q), x[:, num_agents * q:])

    return losses


def seconds_and_values(function, inputs, repeats: int = 1):
    """Mean seconds per call of ``function`` over ``inputs`` (each ``repeats`` times) and its outputs."""
    start = time.perf_counter()
    outputs = [function(x) for x in inputs for _ in range(repeats)]
    return (time.perf_counter() - start) / (len(inputs) * repeats), outputs[::repeats]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12, help="fit pairs of the seed-0 trace")
    parser.add_argument("--generations", type=int, default=3)
    args = parser.parse_args()
    settings = load_params()["t2"]["inverse"]
    with single_threaded_torch():
        model, divergence, (num_agents, q) = stage_b_problem(settings, Path("data/t2/seed_0/trace.npz"), args.pairs)
        populations = random_populations(settings["cma_popsize"], num_agents, q, args.generations)
        results = {}
        for dtype in (torch.float64, torch.float32):
            model_d, divergence_d = in_precision(model, divergence, dtype)
            losses = loss_function(model_d, divergence_d, num_agents, q, dtype)

            def generation(x):
                with torch.no_grad():
                    return losses(x).double().numpy()

            def gradient(x):
                omega = torch.as_tensor(x[None, :num_agents * q], dtype=dtype).reshape(1, num_agents, q)
                nuisance = torch.as_tensor(x[None, num_agents * q:], dtype=dtype).requires_grad_(True)
                value = policy_loss(model_d, divergence_d, omega, nuisance)[0]
                (grad,) = torch.autograd.grad(value, nuisance)
                return value.double().item(), grad.double().numpy()

            generation(populations[0])  # warm-up
            results[dtype] = (seconds_and_values(generation, populations),
                              seconds_and_values(gradient, [population[0] for population in populations], repeats=3))
    (gen64, values64), (grad64, grads64) = results[torch.float64]
    (gen32, values32), (grad32, grads32) = results[torch.float32]
    loss_error = max(float(np.max(np.abs(a - b) / np.abs(a))) for a, b in zip(values64, values32))
    gradient_error = max(float(np.linalg.norm(a[1] - b[1]) / np.linalg.norm(a[1])) for a, b in zip(grads64, grads32))
    print(f"Stage B objective, {settings['cma_popsize']} candidates × {args.pairs} fit pairs: float64 {gen64:.3f} s, "
          f"float32 {gen32:.3f} s per generation, {gen64 / gen32:.2f}× faster; largest relative loss difference "
          f"{loss_error:.1e}")
    print(f"Gradient of the loss in the nuisance (an L-BFGS step): float64 {grad64:.3f} s, float32 {grad32:.3f} s, "
          f"{grad64 / grad32:.2f}× faster; largest relative gradient difference {gradient_error:.1e}")


if __name__ == "__main__":
    main()
