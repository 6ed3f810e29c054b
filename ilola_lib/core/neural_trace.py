"""Learning traces of neural-network learners (T2 and T3 PPO; design §3).

A :class:`NeuralTrace` holds, for phases ``k = 0..K``:

* ``actor_params [K+1, N, d]``: every agent's flat actor parameters ``θ_i^k``
  (:func:`ilola_lib.core.policies.flatten_params` order); ``θ^0`` is the initialisation,
  ``θ^{k+1}`` the parameters right after update ``k``;
* the batch ``D_k`` sampled with ``θ^k``: ``observations [K+1, T, E, N, obs_dim]`` (float32, exactly
  the policy's input), ``actions [K+1, T, E, N]``, reward features ``features [K+1, T, E, N, q]``,
  the rewards the learners were trained on ``rewards [K+1, T, E, N]`` (``w_i · φ_i``) and episode
  ends ``dones [K+1, T, E]``. ``D_k`` for ``k < K`` is the rollout update ``k`` learned from;
  ``D_K`` is one extra rollout with the final parameters, so every pair ``k → k+1`` has
  observations under both policies;
* the frozen observation normalisation ``obs_mean, obs_std [N, obs_dim]`` that is part of every
  actor, the training reward weights ``reward_weights [N, q]``;
* JSON metadata: config, seed, package versions, architecture, learning curve.

The observation each step reached, before any reset, ``final_observations [K+1, T, E, N, obs_dim]`` (the
bootstrap point of a truncated episode), and ``terminated [K+1, T, E]`` (the episode ended in a terminal
state, T3 only) complete the transitions; they are optional so that traces recorded without them still load.

T3 (Gaussian policies, ``metadata["policy"] == "gaussian"``) stores ``actions [K+1, T, E, N, A]``
(float32) and a ``valid [K+1, T, E]`` mask: each env plays one episode per phase from step 0, padded
to ``T = max_cycles`` after it ends (padding has zero features and rewards).

Rollouts are aligned to episodes (``T`` is a multiple of ``max_cycles`` and envs start fresh
episodes together), so ``D_k`` consists of ``E · T / max_cycles`` complete episodes per agent, and
step ``t`` of a rollout is time step ``t mod max_cycles`` of its episode.

Saved as one compressed ``.npz`` (no pickle; the metadata is a JSON string array). The zip
format checks a CRC per array, so a truncated or corrupted file raises ``ValueError`` on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ilola_lib.core.io import load_arrays, save_arrays
from ilola_lib.core.policies import CategoricalActor, GaussianActor, load_flat_params_

TRACE_ARRAYS = (
    "actor_params",
    "observations",
    "actions",
    "features",
    "rewards",
    "dones",
    "obs_mean",
    "obs_std",
    "reward_weights",
)
OPTIONAL_ARRAYS = ("valid", "final_observations", "terminated")
METADATA_KEY = "metadata_json"
REQUIRED_METADATA = {"categorical": ("hidden_size", "num_actions"),
                     "gaussian": ("hidden_size", "action_dim", "init_log_std")}


@dataclass
class NeuralTrace:
    """The observer's data from one run of neural learners (shapes in the module docstring)."""

    actor_params: np.ndarray
    observations: np.ndarray
    actions: np.ndarray
    features: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    obs_mean: np.ndarray
    obs_std: np.ndarray
    reward_weights: np.ndarray
    metadata: dict
    valid: np.ndarray | None = None
    final_observations: np.ndarray | None = None
    terminated: np.ndarray | None = None

    @property
    def policy(self) -> str:
        """``"categorical"`` (T2) or ``"gaussian"`` (T3)."""
        return self.metadata.get("policy", "categorical")

    def __post_init__(self) -> None:
        check_trace_shapes(self)

    def valid_mask(self) -> np.ndarray:
        """``[K+1, T, E]`` bool: the real (non-padding) steps of every batch; all of them for unpadded traces."""
        return self.valid if self.valid is not None else np.ones(self.dones.shape, dtype=bool)

    def episodes(self, values: np.ndarray, phase: int) -> torch.Tensor:
        """``values[phase]`` (a ``[T, E, …]`` batch array of this trace) as episodes ``[B, H, …]``.

        Padded batches hold one episode per env (``[H, E] → [E, H]``); unpadded rollouts reset every env
        every ``max_cycles`` steps (:func:`episodes_from_rollout`).
        """
        batch = torch.as_tensor(values[phase])
        if self.valid is not None:
            return batch.transpose(0, 1)
        return episodes_from_rollout(batch, int(self.metadata["config"]["max_cycles"]))

    def valid_steps(self, phase: int) -> np.ndarray:
        """``[T, E]`` bool: the real (non-padding) steps of ``D_phase``; all of them for unpadded traces."""
        if self.valid is None:
            return np.ones(self.dones.shape[1:], dtype=bool)
        return self.valid[phase]

    @property
    def num_phases(self) -> int:
        """``K``: the number of updates (pairs ``k → k+1``)."""
        return self.actor_params.shape[0] - 1

    @property
    def num_agents(self) -> int:
        return self.actor_params.shape[1]

    @property
    def num_params(self) -> int:
        """``d``: parameters per actor."""
        return self.actor_params.shape[2]

    def arrays(self) -> dict[str, np.ndarray]:
        """The trace's arrays by name (the ``TRACE_ARRAYS`` and any ``OPTIONAL_ARRAYS`` present)."""
        names = TRACE_ARRAYS + tuple(name for name in OPTIONAL_ARRAYS if getattr(self, name) is not None)
        return {name: getattr(self, name) for name in names}

    def actor_template(self, agent: int) -> CategoricalActor | GaussianActor:
        """Agent ``agent``'s actor architecture with its frozen normalisation (float32).

        Its parameter values are ``θ_agent^0``; evaluate other phases with
        :func:`~ilola_lib.core.policies.actor_log_probs` and ``actor_params[k, agent]``.
        """
        obs_mean, obs_std = torch.from_numpy(self.obs_mean[agent]), torch.from_numpy(self.obs_std[agent])
        hidden_size = int(self.metadata["hidden_size"])
        if self.policy == "gaussian":
            actor = GaussianActor(obs_mean, obs_std, int(self.metadata["action_dim"]), hidden_size,
                                  init_log_std=float(self.metadata["init_log_std"]))
        else:
            actor = CategoricalActor(obs_mean, obs_std, int(self.metadata["num_actions"]), hidden_size)
        return load_flat_params_(actor, torch.from_numpy(self.actor_params[0, agent]))

    def episode_returns(self, weights: np.ndarray) -> np.ndarray:
        """Mean per-agent episode return ``[K+1]`` of each ``D_k`` under reward ``weights [N, q]``.

        Uses float64 sums of ``weights_i · φ_i`` over all steps divided by the number of episodes
        (the batches hold complete episodes, see the module docstring).
        """
        weights = np.asarray(weights, dtype=np.float64)
        rewards = np.einsum("ktenq,nq->kten", self.features.astype(np.float64), weights)
        episodes_per_phase = self.dones[0].sum()
        return rewards.sum(axis=(1, 2)).mean(axis=-1) / episodes_per_phase


def check_trace_shapes(trace: NeuralTrace) -> None:
    """Raise ``ValueError`` naming the array whose shape or dtype is inconsistent."""
    if trace.actor_params.ndim != 3:
        raise ValueError(f"actor_params must be [K+1, N, d], got {trace.actor_params.shape}")
    phases, num_agents, _ = trace.actor_params.shape
    if trace.observations.ndim != 5:
        raise ValueError(f"observations must be [K+1, T, E, N, obs_dim], got {trace.observations.shape}")
    _, steps, envs, _, obs_dim = trace.observations.shape
    num_features = trace.reward_weights.shape[-1]
    gaussian = trace.metadata.get("policy", "categorical") == "gaussian"
    action_shape = (phases, steps, envs, num_agents) + ((trace.actions.shape[-1],) if gaussian else ())
    expected = {
        "observations": (phases, steps, envs, num_agents, obs_dim),
        "actions": action_shape,
        "features": (phases, steps, envs, num_agents, num_features),
        "rewards": (phases, steps, envs, num_agents),
        "dones": (phases, steps, envs),
        "obs_mean": (num_agents, obs_dim),
        "obs_std": (num_agents, obs_dim),
        "reward_weights": (num_agents, num_features),
    }
    for name, shape in expected.items():
        found = getattr(trace, name).shape
        if found != shape:
            raise ValueError(f"trace array {name!r} has shape {found}, expected {shape}")
    if gaussian != np.issubdtype(trace.actions.dtype, np.floating):
        raise ValueError(f"trace actions must be {'floats' if gaussian else 'integers'}, got {trace.actions.dtype}")
    if trace.dones.dtype != np.bool_:
        raise ValueError(f"trace dones must be bool, got {trace.dones.dtype}")
    if trace.valid is not None and (trace.valid.shape != trace.dones.shape or trace.valid.dtype != np.bool_):
        raise ValueError(f"trace valid must be bool {trace.dones.shape}, got {trace.valid.dtype} {trace.valid.shape}")
    for name, shape in (("final_observations", expected["observations"]), ("terminated", expected["dones"])):
        value = getattr(trace, name)
        if value is not None and value.shape != shape:
            raise ValueError(f"trace array {name!r} has shape {value.shape}, expected {shape}")
    if gaussian and trace.valid is None:
        raise ValueError("a Gaussian (T3) trace needs its valid mask")
    required = REQUIRED_METADATA.get(trace.metadata.get("policy", "categorical"))
    if required is None:
        raise ValueError(f"trace metadata has unknown policy {trace.metadata.get('policy')!r}")
    missing = [key for key in required if key not in trace.metadata]
    if missing:
        raise ValueError(f"trace metadata lacks {missing}")


def episodes_from_rollout(values: torch.Tensor, horizon: int) -> torch.Tensor:
    """``[T, E, …]`` → ``[E·T/H, H, …]`` for rollouts whose envs all reset every ``H`` steps from step 0."""
    steps, envs = values.shape[:2]
    assert steps % horizon == 0, f"rollout length {steps} is not a multiple of the episode length {horizon}"
    chunks = values.reshape(steps // horizon, horizon, envs, *values.shape[2:])
    return chunks.transpose(1, 2).reshape(-1, horizon, *values.shape[2:])


def save_neural_trace(trace: NeuralTrace, path: str | os.PathLike) -> Path:
    """Write ``trace`` atomically as a compressed ``.npz`` (metadata as a JSON string)."""
    metadata_json = json.dumps(trace.metadata, sort_keys=True, allow_nan=False)
    return save_arrays(path, {**trace.arrays(), METADATA_KEY: np.array(metadata_json)})


def load_neural_trace(path: str | os.PathLike) -> NeuralTrace:
    """Read a trace written by :func:`save_neural_trace`.

    Raises:
        ValueError: the file is truncated or corrupt, lacks an array, has unreadable metadata or
            inconsistent shapes.
    """
    arrays = load_arrays(path, required=TRACE_ARRAYS + (METADATA_KEY,))
    optional = {name: arrays.get(name) for name in OPTIONAL_ARRAYS}
    try:
        metadata = json.loads(str(arrays.pop(METADATA_KEY)))
    except json.JSONDecodeError as err:
        raise ValueError(f"trace file {path} has unreadable metadata: {err}") from err
    return NeuralTrace(**{name: arrays[name] for name in TRACE_ARRAYS}, metadata=metadata, **optional)
