"""What per-sample scores would buy the GPOMDP/LOLA tensor estimates: ``Ψ`` and ``T`` of one update as the
pipeline estimates them (:func:`ilola_lib.core.gradient_estimators.sampled_gradient_tensors`: a reverse-mode
Jacobian per output and forward-mode directional scores) against the same estimators contracted from each agent's
per-sample scores ``∇_θ log π(a_b|o_b)`` ``[B, d]``, computed once by ``vmap(grad)``, on the same batch, in one run.

Run from the repository root: ``python -m benchmarks.bench_tensor_estimation [--phases 3]``.

Uses T2 seed 0's trace (``data/t2/seed_0/trace.npz``), one thread. Prints the seconds per update of each way, their
ratio and the largest difference between their ``Ψ`` and ``T`` relative to each tensor's largest entry. The
pipeline is unchanged: this measures a lever, it does not pull it.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.func import grad, vmap

from ilola_lib.core.gradient_estimators import _centred_discounted, _reverse_cumsum, sampled_gradient_tensors
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import actor_log_probs
from ilola_lib.inverse.trace_inversion import log_prob_functions, phase_batch, templates_of


def per_sample_tensors(templates, params: torch.Tensor, observations: torch.Tensor, actions: torch.Tensor,
                       features: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``Ψ_ii [N, d, q]`` and ``T [N, N, d, q, q]`` from per-sample scores ``G_i [E, H, d]`` (the module docstring of
    :mod:`ilola_lib.core.gradient_estimators` defines both estimators; the directional scores ``S_j,t · c_m`` are
    cumulative sums of ``G_j c_m``). Observations ``[E, H, N, obs_dim]``, actions ``[E, H, N]``, features
    ``[N, E, H, q]``."""
    num_agents, episodes, steps, q = features.shape

    def scores(agent: int) -> torch.Tensor:
        log_prob = lambda theta, obs, action: actor_log_probs(templates[agent], theta, obs, action)  # noqa: E731
        flat_obs = observations[:, :, agent].reshape(episodes * steps, -1)
        flat_actions = actions[:, :, agent].reshape(-1)
        return vmap(grad(log_prob), in_dims=(None, 0, 0))(params[agent], flat_obs, flat_actions).reshape(
            episodes, steps, -1).to(torch.float64)

    score = [scores(i) for i in range(num_agents)]
    returns_to_go = [_reverse_cumsum(_centred_discounted(features[i], gamma)) for i in range(num_agents)]
    jacobian = [[torch.einsum("ehd,ehq->dq", score[j], returns_to_go[i]) / episodes for j in range(num_agents)]
                for i in range(num_agents)]
    own = torch.stack([jacobian[i][i] for i in range(num_agents)])
    cross = torch.zeros(num_agents, num_agents, params.shape[1], q, q, dtype=own.dtype)
    for i in range(num_agents):
        for j in range(num_agents):
            if i != j:
                directional = torch.einsum("ehd,dm->ehm", score[j], jacobian[i][j]).cumsum(dim=1)
                centred = _centred_discounted(features[j], gamma)
                weights = _reverse_cumsum(directional[..., :, None] * centred[..., None, :])
                cross[i, j] = torch.einsum("ehd,ehmn->dmn", score[i], weights) / episodes
    return own, cross


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=int, default=3, help="updates of the trace (k = 0, 1, …)")
    args = parser.parse_args()
    trace = load_neural_trace("data/t2/seed_0/trace.npz")
    templates = templates_of(trace)
    gamma = float(trace.metadata["config"]["gamma"])
    pipeline_seconds = per_sample_seconds = 0.0
    own_error = cross_error = 0.0
    with single_threaded_torch():
        for phase in range(args.phases):
            observations, actions, features = phase_batch(trace, phase)
            params = torch.as_tensor(trace.actor_params[phase], dtype=torch.float64)
            start = time.perf_counter()
            own, cross = sampled_gradient_tensors(log_prob_functions(trace, templates, phase), params, features, gamma,
                                                  coupled=True)
            pipeline_seconds += time.perf_counter() - start
            start = time.perf_counter()
            own_ps, cross_ps = per_sample_tensors(templates, params, observations, actions, features, gamma)
            per_sample_seconds += time.perf_counter() - start
            own_error = max(own_error, float((own - own_ps).abs().max() / own.abs().max()))
            cross_error = max(cross_error, float((cross - cross_ps).abs().max() / cross.abs().max()))
    print(f"Ψ and T of {args.phases} updates: the pipeline's estimate {pipeline_seconds / args.phases:.2f} s, from "
          f"per-sample scores {per_sample_seconds / args.phases:.2f} s per update, "
          f"{pipeline_seconds / per_sample_seconds:.1f}× faster; largest difference relative to the largest entry: "
          f"Ψ {own_error:.1e}, T {cross_error:.1e}")


if __name__ == "__main__":
    main()
