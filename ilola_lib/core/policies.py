"""Categorical and diagonal-Gaussian MLP actors and the critic of the PPO learners, and flat-parameter
evaluation helpers.

Both networks are CleanRL-style MLPs ``obs_dim → hidden → hidden → out`` with tanh activations
and orthogonal initialisation (gain ``√2`` on hidden layers, ``0.01`` on the actor's output
layer, ``1`` on the critic's output layer, zero biases).

Observation normalisation is part of each network as *fixed* buffers ``obs_mean`` and
``obs_std`` (measured once from random-policy rollouts before training, then frozen and stored
with the learning trace). It is deliberately not a running normaliser: the inverse methods
treat ``π_i(a | o; θ_i)`` as a function of the parameters ``θ_i`` alone, and a normaliser whose
statistics drift during training would change the policy without any change of ``θ_i``. The
buffers are not parameters, so :func:`flatten_params` does not include them.

Every actor exposes its distribution family through two methods used by PPO:
``log_prob_and_entropy(obs, actions)`` and ``mean_kl_from(before_params, obs)``.

The flat-parameter helpers (:func:`actor_logits`, :func:`actor_log_probs`, :func:`gaussian_mean_log_std`,
:func:`gaussian_log_probs`) evaluate an actor
*architecture* (a template module, whose buffers supply the normalisation constants) at flat
parameter vectors ``[d]`` or at a whole population ``[P, d]`` in one call
(``torch.func.functional_call`` + ``vmap``), with autograd through the flat vector.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, vmap

from ilola_lib.core.metrics import categorical_kl

MIN_OBSERVATION_STD = 1e-6


def orthogonal_linear(
    in_features: int, out_features: int, gain: float, generator: torch.Generator | None
) -> nn.Linear:
    """A ``Linear`` layer with orthogonal weights of the given ``gain`` and zero bias."""
    layer = nn.Linear(in_features, out_features)
    nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def safe_observation_std(std: torch.Tensor) -> torch.Tensor:
    """``std`` with entries below ``MIN_OBSERVATION_STD`` replaced by 1.

    Constant inputs (simple_spread's silent communication channels are always zero) carry no
    information; dividing them by 1 keeps them at their centred value 0 instead of blowing up.
    """
    return torch.where(std < MIN_OBSERVATION_STD, torch.ones_like(std), std)


class NormalizedMLP(nn.Module):
    """``obs → (obs − obs_mean) / obs_std → MLP(tanh) → outputs [..., out_dim]``.

    The computation runs in the dtype of the first layer's weight, so the same module evaluates
    float32 parameters on float32 observations and float64 parameters (e.g. in an inverse
    method) on the same observations without a dtype error.
    """

    def __init__(
        self,
        obs_mean: torch.Tensor,
        obs_std: torch.Tensor,
        hidden_size: int,
        out_dim: int,
        output_gain: float,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        obs_mean = torch.as_tensor(obs_mean, dtype=torch.float32)
        obs_std = torch.as_tensor(obs_std, dtype=torch.float32)
        if obs_mean.ndim != 1 or obs_mean.shape != obs_std.shape:
            raise ValueError(
                f"obs_mean and obs_std must be vectors of one shape, got "
                f"{tuple(obs_mean.shape)} and {tuple(obs_std.shape)}"
            )
        if not torch.all(obs_std > 0):
            raise ValueError("obs_std must be positive (use safe_observation_std)")
        obs_dim = obs_mean.shape[0]
        self.register_buffer("obs_mean", obs_mean.clone())
        self.register_buffer("obs_std", obs_std.clone())
        self.body = nn.Sequential(
            orthogonal_linear(obs_dim, hidden_size, math.sqrt(2), generator),
            nn.Tanh(),
            orthogonal_linear(hidden_size, hidden_size, math.sqrt(2), generator),
            nn.Tanh(),
            orthogonal_linear(hidden_size, out_dim, output_gain, generator),
        )

    @property
    def obs_dim(self) -> int:
        return self.obs_mean.shape[0]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Outputs ``[..., out_dim]`` for observations ``[..., obs_dim]``."""
        dtype = self.body[0].weight.dtype
        normalized = (obs.to(dtype) - self.obs_mean.to(dtype)) / self.obs_std.to(dtype)
        return self.body(normalized)


class CategoricalActor(NormalizedMLP):
    """Categorical policy ``π(a | o; θ) = softmax(logits(o; θ))`` over ``num_actions`` actions."""

    def __init__(
        self,
        obs_mean: torch.Tensor,
        obs_std: torch.Tensor,
        num_actions: int,
        hidden_size: int = 64,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(obs_mean, obs_std, hidden_size, num_actions, 0.01, generator)

    def log_prob_and_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log π(a|o)`` and the entropy, both ``[B]``, for ``obs [B, obs_dim]`` and ``actions [B]``."""
        return categorical_log_probs_and_entropy(self(obs), actions)

    def mean_kl_from(self, before_params: torch.Tensor, obs: torch.Tensor) -> float:
        """Mean exact ``KL(π(·|o; before) ‖ π(·|o; self))`` over ``obs [B, obs_dim]``."""
        log_before = torch.log_softmax(actor_logits(self, before_params, obs), dim=-1)
        log_after = torch.log_softmax(self(obs), dim=-1)
        return float(categorical_kl(log_before, log_after).mean())


class GaussianActor(NormalizedMLP):
    """Diagonal Gaussian policy ``π(a | o; θ) = N(μ(o; θ), diag(exp(2 log_std)))`` over ``R^A``.

    The mean is the MLP's output (``forward``); ``log_std [A]`` is a state-independent parameter
    (CleanRL ``ppo_continuous_action``), initialised to ``init_log_std``. It is registered before
    the MLP, so it is the first ``A`` entries of :func:`flatten_params`. Actions are unbounded
    samples; an environment with bounded actions clips them.
    """

    def __init__(
        self,
        obs_mean: torch.Tensor,
        obs_std: torch.Tensor,
        action_dim: int,
        hidden_size: int = 64,
        generator: torch.Generator | None = None,
        init_log_std: float = 0.0,
    ) -> None:
        super().__init__(obs_mean, obs_std, hidden_size, action_dim, 0.01, generator)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Independent:
        """``π(·|o)`` for ``obs [..., obs_dim]`` (batch shape ``[...]``, event shape ``[A]``)."""
        return gaussian(self(obs), self.log_std)

    def log_prob_and_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log π(a|o)`` and the entropy, both ``[B]``, for ``obs [B, obs_dim]`` and ``actions [B, A]``."""
        policy = self.distribution(obs)
        return policy.log_prob(actions), policy.entropy()

    def mean_kl_from(self, before_params: torch.Tensor, obs: torch.Tensor) -> float:
        """Mean closed-form ``KL(π(·|o; before) ‖ π(·|o; self))`` over ``obs [B, obs_dim]``."""
        before = gaussian(*gaussian_mean_log_std(self, before_params, obs))
        return float(torch.distributions.kl_divergence(before, self.distribution(obs)).mean())


def gaussian(mean: torch.Tensor, log_std: torch.Tensor) -> torch.distributions.Independent:
    """The diagonal Gaussian ``N(mean, diag(exp(2 log_std)))``, event shape ``[A]`` (no argument validation,
    so it can be built inside ``vmap``)."""
    normal = torch.distributions.Normal(mean, log_std.exp().expand_as(mean), validate_args=False)
    return torch.distributions.Independent(normal, 1, validate_args=False)


def categorical_log_probs_and_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``log π(a|o)`` and the entropy, both ``[B]``, from ``logits [B, A]`` and ``actions [B]``."""
    log_policy = torch.log_softmax(logits, dim=-1)
    log_probs = log_policy.gather(-1, actions[:, None]).squeeze(-1)
    entropy = -(log_policy.exp() * log_policy).sum(-1)
    return log_probs, entropy


class Critic(NormalizedMLP):
    """State-value estimate ``V(o) = value_offset + value_scale · MLP(o)``, values ``[...]``.

    ``value_offset`` and ``value_scale`` are fixed buffers on the scale of the discounted return
    (set once before training, like the observation normaliser). Without them the network's
    output must grow to returns of order ``-20`` through Adam steps of size ``lr``, which takes
    thousands of steps and leaves the critic useless for most of a short run.
    """

    def __init__(
        self,
        obs_mean: torch.Tensor,
        obs_std: torch.Tensor,
        hidden_size: int = 64,
        generator: torch.Generator | None = None,
        value_offset: float = 0.0,
        value_scale: float = 1.0,
    ) -> None:
        super().__init__(obs_mean, obs_std, hidden_size, 1, 1.0, generator)
        if not value_scale > 0:
            raise ValueError(f"value_scale must be > 0, got {value_scale}")
        self.register_buffer("value_offset", torch.tensor(float(value_offset)))
        self.register_buffer("value_scale", torch.tensor(float(value_scale)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        output = super().forward(obs).squeeze(-1)
        return self.value_offset.to(output.dtype) + self.value_scale.to(output.dtype) * output


def flatten_params(module: nn.Module) -> torch.Tensor:
    """All parameters of ``module`` (``named_parameters`` order) as one detached vector ``[d]``."""
    return torch.cat([param.detach().reshape(-1) for param in module.parameters()]).clone()


def num_params(module: nn.Module) -> int:
    """``d``: the number of scalar parameters of ``module``."""
    return sum(param.numel() for param in module.parameters())


def unflatten_params(module: nn.Module, flat_params: torch.Tensor) -> dict[str, torch.Tensor]:
    """Views of ``flat_params [..., d]`` shaped like ``module``'s parameters ``[..., *shape]``.

    Keeps autograd through ``flat_params``; raises ``ValueError`` if ``d`` does not match.
    """
    expected = num_params(module)
    if flat_params.shape[-1] != expected:
        raise ValueError(f"flat parameter vector has {flat_params.shape[-1]} entries, module needs {expected}")
    batch_shape = flat_params.shape[:-1]
    params, start = {}, 0
    for name, param in module.named_parameters():
        stop = start + param.numel()
        params[name] = flat_params[..., start:stop].reshape(*batch_shape, *param.shape)
        start = stop
    return params


def load_flat_params_(module: nn.Module, flat_params: torch.Tensor) -> nn.Module:
    """Copy ``flat_params [d]`` into ``module``'s parameters in place; returns ``module``."""
    if flat_params.ndim != 1:
        raise ValueError(f"expected one flat parameter vector [d], got shape {tuple(flat_params.shape)}")
    with torch.no_grad():
        for name, value in unflatten_params(module, flat_params).items():
            module.get_parameter(name).copy_(value)
    return module


def actor_logits(actor_template: nn.Module, flat_params: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Outputs (a :class:`CategoricalActor`'s logits, a :class:`GaussianActor`'s mean) of
    ``actor_template``'s architecture at ``flat_params``.

    Args:
        actor_template: a :class:`CategoricalActor`; only its architecture and buffers (the
            fixed normalisation constants) are used, not its parameter values.
        flat_params: one parameter vector ``[d]`` or a population ``[P, d]``.
        obs: observations ``[..., obs_dim]``, shared by the whole population.

    Returns:
        ``[..., A]`` for ``[d]``, ``[P, ..., A]`` for ``[P, d]``.
    """
    if flat_params.ndim == 1:
        return functional_call(actor_template, unflatten_params(actor_template, flat_params), (obs,))
    if flat_params.ndim == 2:
        def logits_of_one(params: dict[str, torch.Tensor]) -> torch.Tensor:
            return functional_call(actor_template, params, (obs,))

        return vmap(logits_of_one)(unflatten_params(actor_template, flat_params))
    raise ValueError(f"flat_params must be [d] or [P, d], got shape {tuple(flat_params.shape)}")


def actor_log_probs(
    actor_template: nn.Module, flat_params: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """``log π(actions | obs; θ)`` at ``flat_params`` ``[d]`` or ``[P, d]``.

    ``obs [..., obs_dim]`` and integer ``actions [...]`` are shared by the population; returns
    ``[...]`` for ``[d]`` and ``[P, ...]`` for ``[P, d]``.
    """
    log_policy = torch.log_softmax(actor_logits(actor_template, flat_params, obs), dim=-1)
    index = actions.long().expand(log_policy.shape[:-1]).unsqueeze(-1)
    return log_policy.gather(-1, index).squeeze(-1)


def gaussian_mean_log_std(
    actor_template: GaussianActor, flat_params: torch.Tensor, obs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and log-std of ``actor_template``'s architecture at ``flat_params``.

    ``flat_params [d]`` gives mean ``[..., A]`` and log-std ``[A]``; a population ``[P, d]`` gives
    ``[P, ..., A]`` and ``[P, 1, …, 1, A]`` (broadcastable against the mean).
    """
    mean = actor_logits(actor_template, flat_params, obs)
    log_std = unflatten_params(actor_template, flat_params)["log_std"]
    if flat_params.ndim == 2:
        log_std = log_std.reshape(log_std.shape[0], *(1,) * (mean.ndim - 2), log_std.shape[-1])
    return mean, log_std


def flat_log_prob_and_entropy(
    actor_template: nn.Module, flat_params: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``log π(a|o; θ)`` and the entropy of ``π(·|o; θ)``, both ``[B]``, at one flat parameter vector ``[d]``
    for ``obs [B, obs_dim]`` and ``actions [B]`` (categorical) or ``[B, A]`` (Gaussian): the actor's own
    :meth:`log_prob_and_entropy` as a function of ``θ`` (usable under ``torch.func.grad`` and ``vmap``)."""
    if isinstance(actor_template, GaussianActor):
        mean, log_std = gaussian_mean_log_std(actor_template, flat_params, obs)
        policy = gaussian(mean, log_std)
        return policy.log_prob(actions.to(mean.dtype)), policy.entropy()
    return categorical_log_probs_and_entropy(actor_logits(actor_template, flat_params, obs), actions)


def gaussian_log_probs(
    actor_template: GaussianActor, flat_params: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """``log π(actions | obs; θ)`` of a :class:`GaussianActor` at ``flat_params`` ``[d]`` or ``[P, d]``.

    ``obs [..., obs_dim]`` and ``actions [..., A]`` are shared by the population; returns ``[...]``
    or ``[P, ...]``.
    """
    mean, log_std = gaussian_mean_log_std(actor_template, flat_params, obs)
    return gaussian(mean, log_std).log_prob(actions.to(mean.dtype))
