"""The PPO training loop that records a learning trace (design §3–§4), for any task and for independent or
LOLA-PPO learners.

A task supplies its learners (:func:`ilola_lib.core.ppo.make_learners` with its actor) and a function
``collect(phase) → (rollout, statistics)`` that samples ``D_k`` with the current policies; the loop
snapshots ``θ^k``, stores ``D_k`` and (for ``k < K``) updates every agent on it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.policies import CategoricalActor, GaussianActor, flatten_params
from ilola_lib.core.ppo import AgentLearner, PPOHyperparameters, Rollout, mean_episode_return, update_learners
from ilola_lib.core.seeds import learner_seeds

# Trace arrays taken from every rollout, with their stored dtype (None: the rollout's own).
BATCH_ARRAYS = {"observations": np.float32, "final_observations": np.float32, "actions": None,
                "features": np.float32, "rewards": np.float32, "dones": np.bool_}
TIMING_KEYS = ("seconds", "steps_per_second")


class TraceRecorder:
    """The trace arrays of phases ``0..K``, each allocated at its first phase and filled phase by phase."""

    def __init__(self, num_updates: int) -> None:
        self.num_phases = num_updates + 1
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, name: str, phase: int, value: np.ndarray, dtype=None) -> None:
        if name not in self.arrays:
            self.arrays[name] = np.zeros((self.num_phases, *value.shape), dtype=dtype or value.dtype)
        self.arrays[name][phase] = value

    def record(self, phase: int, learners: list[AgentLearner], rollout: Rollout) -> None:
        """Store ``θ^k`` (every agent's flat actor parameters) and the batch ``D_k``."""
        self._store("actor_params", phase, np.stack([flatten_params(learner.actor).numpy() for learner in learners]))
        for name, dtype in BATCH_ARRAYS.items():
            self._store(name, phase, getattr(rollout, name).numpy(), dtype)
        for name in ("valid", "terminated"):
            if getattr(rollout, name) is not None:
                self._store(name, phase, getattr(rollout, name).numpy(), np.bool_)

    def finish(self, obs_mean: torch.Tensor, obs_std: torch.Tensor, reward_weights: np.ndarray,
               metadata: dict) -> NeuralTrace:
        """The recorded :class:`~ilola_lib.core.neural_trace.NeuralTrace`."""
        arrays = self.arrays
        return NeuralTrace(arrays["actor_params"], arrays["observations"], arrays["actions"], arrays["features"],
                           arrays["rewards"], arrays["dones"], obs_mean.numpy(), obs_std.numpy(), reward_weights,
                           metadata, valid=arrays.get("valid"), final_observations=arrays["final_observations"],
                           terminated=arrays.get("terminated"))


def batch_returns(rollout: Rollout) -> dict[str, float]:
    """Mean per-agent environment and training returns of the complete episodes of a batch."""
    return {"episode_return": mean_episode_return(rollout.env_rewards, rollout.dones),
            "training_return": mean_episode_return(rollout.rewards, rollout.dones)}


def env_steps(rollout: Rollout) -> int:
    """Environment steps in a batch (padding excluded)."""
    return int(rollout.valid.sum()) if rollout.valid is not None else rollout.dones.numel()


@dataclass
class PPORun:
    """Result of a training run.

    ``history`` has one dict per update ``k``, all values averaged over agents: the task's batch statistics
    of ``D_k`` (at least ``episode_return``, the mean per-agent env return, and ``training_return``, the
    same under the training reward), ``approx_kl`` and ``clip_fraction`` (CleanRL's estimators, mean over
    all minibatches of all epochs), ``policy_kl`` (exact ``KL(π^k ‖ π^{k+1})`` averaged over the
    observations of ``D_k``), ``entropy``, ``policy_loss``, ``value_loss``, ``explained_variance`` (critic
    before the update against the GAE returns), ``steps_per_second`` (env-steps of the phase over its
    wall-clock time, rollout + update) and ``seconds``. ``final_statistics`` are the statistics of ``D_K``.
    """

    learners: list[AgentLearner]
    trace: NeuralTrace
    history: list[dict[str, float]]
    final_statistics: dict[str, float]
    seconds: float

    @property
    def actors(self) -> list[CategoricalActor | GaussianActor]:
        return [learner.actor for learner in self.learners]

    @property
    def final_episode_return(self) -> float:
        """Mean per-agent env return of ``D_K``."""
        return self.final_statistics["episode_return"]

    @property
    def learning_curve(self) -> list[float]:
        """Mean per-agent env return of every ``D_k``, ``k = 0..K``."""
        return [entry["episode_return"] for entry in self.history] + [self.final_episode_return]


def learning_curve_metadata(history: list[dict]) -> dict[str, list[float]]:
    """Every per-update diagnostic of ``history`` as a list over updates, timings left out (so equal runs
    give equal trace metadata)."""
    if not history:
        return {}
    return {key: [entry[key] for entry in history] for key in history[0] if key not in TIMING_KEYS}


def train_ppo_learners(config: PPOHyperparameters, learners: list[AgentLearner],
                       collect: Callable[[int], tuple[Rollout, dict[str, float]]], num_updates: int,
                       description: str,
                       coupling: Callable[[list[AgentLearner], Rollout], torch.Tensor] | None = None,
                       observe: Callable[[int, list[AgentLearner], Rollout], None] | None = None,
                       ) -> tuple[list[dict], dict[str, float], TraceRecorder]:
    """Phase ``k = 0..K``: ``collect(k)`` samples ``D_k`` with ``θ^k`` (returning the batch and its statistics),
    the recorder stores ``θ^k`` and ``D_k``, and for ``k < K`` every agent takes its PPO update on ``D_k``.

    ``coupling(learners, D_k) → [N, d]``: a direction added to every actor step of the update (LOLA-PPO learners,
    :mod:`ilola_lib.core.lola`); ``None`` trains independent PPO learners.

    ``observe(k, learners, D_k)``: called before every update, for white-box diagnostics of the learners' state
    (their critics' advantages, Adam moments); it must leave the learners unchanged.

    Returns the per-update history (see :class:`PPORun`), the statistics of ``D_K`` and the recorder.
    """
    minibatch_generator = torch.Generator().manual_seed(learner_seeds(config.seed)["minibatches"])
    recorder = TraceRecorder(num_updates)
    history = []
    for phase in tqdm(range(num_updates + 1), desc=description, disable=None):
        phase_start = time.perf_counter()
        rollout, statistics = collect(phase)
        recorder.record(phase, learners, rollout)
        if phase == num_updates:
            return history, statistics, recorder
        if observe is not None:
            observe(phase, learners, rollout)
        ascent = None if coupling is None else coupling(learners, rollout)
        diagnostics = update_learners(learners, rollout, config, minibatch_generator, ascent)
        seconds = time.perf_counter() - phase_start
        history.append({"update": phase, **statistics, **diagnostics,
                        "steps_per_second": env_steps(rollout) / seconds, "seconds": seconds})
    raise AssertionError("unreachable: the last phase returns")


def train_on_reward(config: PPOHyperparameters, weights: np.ndarray, train: Callable[[PPOHyperparameters], PPORun],
                    evaluate: Callable[[PPORun], dict]) -> dict:
    """Fresh learners with ``config``'s budget and seed trained on ``r̂_i = weights_i · φ_i`` (``weights [N, q]``)
    and evaluated by ``evaluate(run)`` on the environment's own reward; returns that evaluation as ``return`` and
    the true-return learning curve (mean per-agent env return of each ``D_k``)."""
    run = train(dataclasses.replace(config, reward_weights=tuple(map(tuple, np.asarray(weights)))))
    return {"return": evaluate(run), "learning_curve": run.learning_curve}
