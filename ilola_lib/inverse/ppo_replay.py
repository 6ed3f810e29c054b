"""White-box replay of a PPO actor update: the observer's model of how a PPO learner moves ``θ^k → θ^{k+1}``.

The observer knows the learners' algorithm and hyper-parameters (the PPO analogue of LOGEL knowing its
learner takes gradient steps) and replays :func:`ilola_lib.core.ppo.update_agent`'s actor half as a pure
function of ``θ``:

    for each epoch, for each minibatch ``b`` of a shuffled order:
        L(θ) = mean_b max(−Â_b r_b(θ), −Â_b clip(r_b(θ), 1 ± ε)) − c_H mean_b H(π(·|o_b; θ)),
        r_b(θ) = π(a_b|o_b; θ) / π(a_b|o_b; θ^k),   Â = (A − mean_b A) / (std_b A + 1e-8)  (per minibatch),
        g = clip_norm(∇L(θ), max_grad_norm),   θ, m, v ← Adam(θ, g; m, v)

(Schulman et al. 2017, eq. 7; Kingma & Ba 2015, Algorithm 1 with PyTorch's ``eps`` placement). Given the
learner's own advantages, Adam moments and minibatch order, the replay reproduces its ``Δθ``
(``tests/inverse/test_ppo_replay.py``). The observer has none of these: it replays on advantages from
its shadow critic (:mod:`ilola_lib.inverse.shadow_critic`), with its own Adam moments and minibatch order.

A population of candidate advantages ``A [P, B]`` is replayed in one
``torch.func.vmap`` call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.func import grad, vmap

from ilola_lib.core.policies import flat_log_prob_and_entropy
from ilola_lib.core.ppo import ADAM_EPS, clipped_surrogate_loss, minibatch_indices

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which the learners use
CLIP_NORM_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_'s


class ConfigView:
    """A frozen dataclass of some fields of the learners' PPO configuration."""

    @classmethod
    def from_config(cls, config: dict):
        """From a trace's ``metadata["config"]`` (the learners' PPO configuration)."""
        return cls(**{field: config[field] for field in cls.__dataclass_fields__})


@dataclass(frozen=True, kw_only=True)
class ActorUpdateSettings(ConfigView):
    """The PPO hyper-parameters that shape an actor update (known to the observer)."""

    learning_rate: float
    update_epochs: int
    num_minibatches: int
    clip_coef: float
    ent_coef: float
    max_grad_norm: float
    normalize_advantages: bool


@dataclass
class AdamMoments:
    """Adam's state for one flat parameter vector: the number of steps taken and the first and second moments
    ``[..., d]`` (a leading population axis is allowed)."""

    step: int
    exp_avg: torch.Tensor
    exp_avg_sq: torch.Tensor

    @classmethod
    def zeros(cls, num_params: int, dtype=torch.float32) -> "AdamMoments":
        return cls(0, torch.zeros(num_params, dtype=dtype), torch.zeros(num_params, dtype=dtype))

    def expand(self, population: int) -> "AdamMoments":
        """The same state for each of ``population`` candidates ``[P, d]``."""
        return AdamMoments(self.step, *(x.expand(population, *x.shape[-1:]).clone()
                                        for x in (self.exp_avg, self.exp_avg_sq)))

    def select(self, index: int) -> "AdamMoments":
        """Candidate ``index``'s state ``[d]`` of a population state."""
        return AdamMoments(self.step, self.exp_avg[index], self.exp_avg_sq[index])

    def preconditioner(self) -> torch.Tensor:
        """``1 / (sqrt(v̂) + eps)`` ``[..., d]``: Adam's per-parameter step scale at this state (ones before any step)."""
        if self.step == 0:
            return torch.ones_like(self.exp_avg_sq)
        corrected = self.exp_avg_sq / (1 - ADAM_BETAS[1] ** self.step)
        return 1.0 / (corrected.sqrt() + ADAM_EPS)


def minibatch_orders(batch_size: int, settings: ActorUpdateSettings, generator: torch.Generator) -> list[torch.Tensor]:
    """The minibatch index tensors of one update (:func:`ilola_lib.core.ppo.minibatch_indices`)."""
    return minibatch_indices(batch_size, settings.update_epochs, settings.num_minibatches, generator)


def actor_loss(template, theta: torch.Tensor, observations: torch.Tensor, actions: torch.Tensor,
               old_log_probs: torch.Tensor, advantages: torch.Tensor, settings: ActorUpdateSettings) -> torch.Tensor:
    """PPO's actor loss on one minibatch as a function of the flat parameters ``θ``
    (:func:`ilola_lib.core.ppo.clipped_surrogate_loss`)."""
    log_probs, entropy = flat_log_prob_and_entropy(template, theta, observations, actions)
    return clipped_surrogate_loss(log_probs, entropy, old_log_probs, advantages, settings)[0]


def clip_by_norm(gradient: torch.Tensor, max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` on one flat gradient ``[d]``: scaled by ``min(1, max_norm/(‖g‖ + 1e-6))``."""
    return gradient * (max_norm / (gradient.norm() + CLIP_NORM_EPS)).clamp(max=1.0)


def adam_step(theta: torch.Tensor, gradient: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor,
              step: int, learning_rate: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.optim.Adam`` (no weight decay, no amsgrad) as a function: step number ``step`` (from 1) returns
    ``(θ', m', v')`` with ``θ' = θ − lr m'/(1 − β1^t) / (sqrt(v'/(1 − β2^t)) + eps)``."""
    beta1, beta2 = ADAM_BETAS
    exp_avg = beta1 * exp_avg + (1 - beta1) * gradient
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * gradient * gradient
    denominator = (exp_avg_sq / (1 - beta2 ** step)).sqrt() + ADAM_EPS
    return theta - (learning_rate / (1 - beta1 ** step)) * exp_avg / denominator, exp_avg, exp_avg_sq


@dataclass
class ActorBatch:
    """One agent's training batch of an update, as the observer sees it: observations ``[B, obs_dim]``, actions
    ``[B]`` or ``[B, A]``, and ``log π(a|o; θ^k)`` ``[B]``."""

    observations: torch.Tensor
    actions: torch.Tensor
    old_log_probs: torch.Tensor

    @classmethod
    def at(cls, template, theta: torch.Tensor, observations: torch.Tensor, actions: torch.Tensor) -> "ActorBatch":
        with torch.no_grad():
            old_log_probs, _ = flat_log_prob_and_entropy(template, theta, observations, actions)
        return cls(observations, actions, old_log_probs)


def replay_actor_update(template, theta: torch.Tensor, moments: AdamMoments, batch: ActorBatch,
                        advantages: torch.Tensor, orders: list[torch.Tensor], settings: ActorUpdateSettings) -> tuple[torch.Tensor, AdamMoments]:
    """PPO's actor update from ``θ^k`` ``[d]`` for a population of advantages ``A [P, B]``.

    Args:
        moments: Adam's state before the update, ``[d]`` (shared) or ``[P, d]``.
        orders: the minibatch index tensors in the order they are taken (:func:`minibatch_orders`).

    Returns ``θ^{k+1}`` ``[P, d]`` and the Adam state after the update ``[P, d]``.
    """
    population = advantages.shape[0]
    if moments.exp_avg.ndim == 1:
        moments = moments.expand(population)
    theta = theta.expand(population, -1)

    def step(theta, exp_avg, exp_avg_sq, advantages, observations, actions, old_log_probs, t):
        gradient = grad(actor_loss, argnums=1)(template, theta, observations, actions, old_log_probs, advantages,
                                               settings)
        gradient = clip_by_norm(gradient, settings.max_grad_norm)
        return adam_step(theta, gradient, exp_avg, exp_avg_sq, t, settings.learning_rate)

    batched = vmap(step, in_dims=(0, 0, 0, 0, None, None, None, None))
    exp_avg, exp_avg_sq, t = moments.exp_avg, moments.exp_avg_sq, moments.step
    for index in orders:
        t += 1
        theta, exp_avg, exp_avg_sq = batched(theta, exp_avg, exp_avg_sq, advantages[:, index],
                                             batch.observations[index], batch.actions[index],
                                             batch.old_log_probs[index], t)
    return theta, AdamMoments(t, exp_avg, exp_avg_sq)
