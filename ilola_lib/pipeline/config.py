"""``params.yaml``: one strict schema for the whole file, checked once before any compute.

:class:`ParamsFile` (pydantic v2) describes every key of ``params.yaml`` and ``profiles/*.yaml``: every
section and key is required, an unknown (e.g. misspelt) key is an error, integers are never booleans or
floats, floats are finite, and every budget has an upper bound far above the paper profile so that an
absurd value stops before any compute. YAML 1.1 reads ``1e-3`` (no dot, no exponent sign) as a string;
such scientific-notation strings are read as the float they spell, any other string is an error.

A bad file raises :class:`ConfigError` whose message names the file and the dotted key::

    params.yaml: t2.inverse.cma_generatoins: unknown key
    params.yaml: t1.sampling.episodes must be an integer in [1, 1000000], got 0

:func:`load_params` returns the validated values as a plain dict (numbers converted to the declared
types); every pipeline stage calls it through :mod:`ilola_lib.pipeline.notebook_runner` first.
"""

import argparse
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from ilola_lib.core.io import write_text
from ilola_lib.pipeline.fields import (
    ClipCoef,
    CmaGenerations,
    CmaPopsize,
    CmaRestarts,
    CmaSigma,
    Discount,
    EntCoef,
    EtaInit,
    EvalEpisodes,
    FitPairStride,
    GaeLambda,
    HeldOutEvery,
    HiddenSize,
    LbfgsIterations,
    LearningRate,
    LogelRestarts,
    MaxGradNorm,
    NumMinibatches,
    NumUpdates,
    RandomDraws,
    Section,
    Seeds,
    StatesPerPair,
    TrueRewardTrainings,
    UpdateEpochs,
    VfCoef,
    Workers,
    check_held_out,
    check_validation,
    check_warm_up,
    check_samples,
    cross_field_error,
    integer_field,
    number_field,
)


class ConfigError(ValueError):
    """A ``params.yaml`` value is missing or invalid; the message names the file and the dotted key."""


# --------------------------------------------------------------------------------------------
# T1: tabular grid world
# --------------------------------------------------------------------------------------------


class T1MaSpi(Section):
    alpha: number_field("MA-SPI temperature (known to the observer)", gt=0)


class T1Sampling(Section):
    episodes: integer_field("B episodes per phase sampled by the observer", 1, 1_000_000)
    horizon: integer_field("steps per sampled episode", 1, 10_000)
    smoothing: number_field("additive smoothing of count-based policy estimates", gt=0)


class T1Matched(Section):
    pg_learning_rate: LearningRate
    lola_learning_rate: LearningRate
    lola_eta: number_field("LOLA look-ahead step size", gt=0)


class InverseFit(Section):
    """The fitting settings every task's Stage A/B and baselines share."""

    logel_restarts: LogelRestarts
    cma_generations: CmaGenerations
    cma_popsize: CmaPopsize
    cma_restarts: CmaRestarts
    cma_sigma: CmaSigma
    eta_init: EtaInit
    random_draws: RandomDraws
    lbfgs_iterations: LbfgsIterations


class T1(Section):
    seeds: Seeds
    grid_size: integer_field("side of the grid (6 × 6 has 1,296 joint states; exact tensors grow steeply)", 2, 6)
    gamma: Discount
    num_phases: integer_field("K learner updates", 4, 1000)
    held_out_every: HeldOutEvery
    init_logit_std: number_field("σ of the initial random logits θ^0 ~ N(0, σ²)", ge=0)
    workers: Workers
    ma_spi: T1MaSpi
    sampling: T1Sampling
    matched: T1Matched
    inverse: InverseFit

    @model_validator(mode="after")
    def _phases_hold_out_a_pair(self) -> Self:
        if self.num_phases < self.held_out_every:
            raise cross_field_error(f"t1.num_phases ({self.num_phases}) must be ≥ t1.held_out_every "
                               f"({self.held_out_every}) so that at least one update pair is held out")
        return self


# --------------------------------------------------------------------------------------------
# T2: simple_spread, independent categorical PPO
# --------------------------------------------------------------------------------------------


class PPOSection(Section):
    """Every field of :class:`ilola_lib.core.ppo.PPOHyperparameters` but the seed, ``num_agents`` (a task
    constant) and ``reward_weights`` (set by the induced-return code); each task adds its own."""

    num_updates: NumUpdates
    learning_rate: LearningRate
    critic_learning_rate: LearningRate
    update_epochs: UpdateEpochs
    num_minibatches: NumMinibatches
    clip_coef: ClipCoef
    ent_coef: EntCoef
    vf_coef: VfCoef
    max_grad_norm: MaxGradNorm
    gamma: Discount
    gae_lambda: GaeLambda
    normalize_advantages: Annotated[bool, Field(strict=True, description="normalise advantages per minibatch",
                                                json_schema_extra={"expected": "true or false"})]
    hidden_size: HiddenSize


class T2PPO(PPOSection):
    """Every field of :class:`ilola_lib.tasks.t2.ppo.PPOConfig` but the seed, ``local_ratio`` (``t2``),
    ``num_agents`` and ``reward_weights``."""

    num_envs: integer_field("parallel envs, one episode each per update", 1, 4096)
    num_steps: integer_field("steps per env per update, a multiple of max_cycles", 1, 10_000)
    max_cycles: integer_field("simple_spread episode length", 1, 10_000)
    normalizer_envs: integer_field("envs of the frozen normaliser's random rollouts", 1, 4096)
    normalizer_steps: integer_field("steps of the frozen normaliser's random rollouts", 1, 100_000)

    def check_batches(self, key: str) -> None:
        """Whole episodes per rollout and minibatches that divide the batch; ``key`` is the section's dotted key."""
        if self.num_steps % self.max_cycles:
            raise cross_field_error(f"{key}.num_steps ({self.num_steps}) must be a multiple of {key}.max_cycles "
                                    f"({self.max_cycles}) so that rollouts hold whole episodes")
        batch = self.num_envs * self.num_steps
        check_samples(f"{key}.num_envs × {key}.num_steps", batch)
        if batch % self.num_minibatches:
            raise cross_field_error(f"{key}.num_minibatches ({self.num_minibatches}) must divide "
                                    f"{key}.num_envs × {key}.num_steps ({batch})")
        check_samples(f"{key}.normalizer_envs × {key}.normalizer_steps", self.normalizer_envs * self.normalizer_steps)


class T2LolaPPO(T2PPO):
    """:class:`T2PPO` plus the LOLA-PPO learners' look-ahead step size (:class:`ilola_lib.tasks.t2.ppo.LolaPPOConfig`)."""

    lola_eta: number_field("η of the learners' first-order LOLA correction added to every actor step", gt=0)


class T2MaLfl(Section):
    potential_degree: Annotated[int, Field(ge=1, le=2, strict=True,
                                           description="shaping potential: 1 (linear) or 2 (quadratic)",
                                           json_schema_extra={"expected": "1 (linear) or 2 (quadratic)"})]
    rollouts: integer_field("Monte-Carlo rollouts per (state, agent, own action) for the soft Q-values", 1, 1000)


class TraceInverse(InverseFit):
    """The inversion of a recorded neural trace: which pairs and states are analysed, and the fits."""

    held_out_every: HeldOutEvery
    states_per_pair: StatesPerPair
    fit_pair_stride: FitPairStride
    replay_linearisations: integer_field("re-linearisations of the PPO replay at each new Stage B estimate", 0, 10)
    warm_up_fraction: number_field("pairs k < fraction · K are left out of every fit and score", ge=0, lt=0.9)
    validation_stride: integer_field("Stage B's selection scores every n-th unfitted fit pair (null: no selection)",
                                     1, 1000) | None


class T2Inverse(TraceInverse):
    ma_lfl: T2MaLfl


class NeuralTask(Section):
    """A task whose PPO learners' traces are inverted: seeds, evaluation, workers, PPO and inversion."""

    seeds: Seeds
    eval_episodes: EvalEpisodes
    true_reward_trainings: TrueRewardTrainings
    workers: Workers
    ppo: PPOSection
    inverse: TraceInverse

    @model_validator(mode="after")
    def _pairs_fit_and_held_out(self) -> Self:
        check_held_out(self.task_key, self.ppo.num_updates, self.inverse.held_out_every)
        check_warm_up(self.task_key, self.ppo.num_updates, self.inverse.held_out_every, self.inverse.warm_up_fraction)
        check_validation(self.task_key, self.ppo.num_updates, self.inverse)
        return self


class T2(NeuralTask):
    task_key: ClassVar[str] = "t2"
    local_ratio: number_field("simple_spread's mix of the global coverage term and own collisions", ge=0, le=1)
    ppo: T2PPO
    inverse: T2Inverse

    @model_validator(mode="after")
    def _whole_episodes_and_minibatches(self) -> Self:
        self.ppo.check_batches(f"{self.task_key}.ppo")
        return self


class T2Lola(T2):
    """The T2 variant with LOLA-PPO learners: T2's keys, and ``ppo.lola_eta``."""

    task_key: ClassVar[str] = "t2_lola"
    ppo: T2LolaPPO


# --------------------------------------------------------------------------------------------
# T3: MultiWalker, independent Gaussian PPO
# --------------------------------------------------------------------------------------------


class T3PPO(PPOSection):
    """Every field of :class:`ilola_lib.tasks.t3.ppo.MultiWalkerPPOConfig` but the seed, ``num_agents`` (a
    task constant) and ``reward_weights`` (set by the induced-return code)."""

    max_cycles: integer_field("MultiWalker episode length limit", 10, 10_000)
    episodes_per_update: integer_field("complete episodes per update (one live env each)", 1, 1024)
    init_log_std: number_field("initial log-σ of every Gaussian actor", ge=-5, le=2)
    normalizer_episodes: integer_field("random episodes of the frozen normaliser", 1, 10_000)

    @model_validator(mode="after")
    def _bounded_batch(self) -> Self:
        check_samples("t3.ppo.episodes_per_update × t3.ppo.max_cycles", self.episodes_per_update * self.max_cycles)
        return self


class T3Inverse(TraceInverse):
    mc_samples: integer_field("Monte-Carlo KL: actions sampled per observation", 2, 100_000)


class T3(NeuralTask):
    task_key: ClassVar[str] = "t3"
    ppo: T3PPO
    inverse: T3Inverse


class T3MonteCarlo(T3):
    """The T3 variant with Monte-Carlo-advantage walkers: T3's keys, with ``ppo.gae_lambda`` = 1."""

    task_key: ClassVar[str] = "t3_mc"

    @model_validator(mode="after")
    def _monte_carlo_advantages(self) -> Self:
        if self.ppo.gae_lambda != 1.0:
            raise cross_field_error("t3_mc.ppo.gae_lambda must be 1.0 (Monte-Carlo advantages), "
                                    f"got {self.ppo.gae_lambda}")
        return self


class ParamsFile(Section):
    """The whole ``params.yaml`` (or ``profiles/*.yaml``)."""

    profile: Annotated[Literal["paper", "smoke"], Field(description="'paper' or 'smoke'",
                                                        json_schema_extra={"expected": "'paper' or 'smoke'"})]
    t1: T1
    t2: T2
    t2_lola: T2Lola
    t3: T3
    t3_mc: T3MonteCarlo


# --------------------------------------------------------------------------------------------
# Loading and error messages
# --------------------------------------------------------------------------------------------


def _dotted(loc: tuple) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _field(loc: tuple) -> FieldInfo | None:
    """The schema field at ``loc`` (list indices are skipped), or ``None``."""
    model: type[BaseModel] | None = ParamsFile
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        annotation = info.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return info


def _expected(loc: tuple) -> str | None:
    info = _field(loc)
    if info is None:
        return None
    if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
        return "a mapping"
    extra = info.json_schema_extra
    return extra.get("expected") if isinstance(extra, dict) else None


def _message(error: dict, source: str) -> str:
    key = _dotted(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{source}: {key}: unknown key"
    if error["type"] == "missing":
        return f"{source}: {key}: missing key"
    if error["type"] == "cross_field":
        return f"{source}: {error['ctx']['message']}"
    expected = _expected(error["loc"])
    if expected is None:
        return f"{source}: {key}: {error['msg']}, got {error['input']!r}"
    return f"{source}: {key} must be {expected}, got {error['input']!r}"


def validate_params(params: Any, source: str = "params.yaml") -> dict:
    """Validate a whole parsed ``params.yaml`` and return its values as a plain dict.

    Raises :class:`ConfigError` with one line per problem, each naming ``source`` and the dotted key.
    """
    if not isinstance(params, dict):
        raise ConfigError(f"{source} must hold a mapping at top level, got {type(params).__name__}")
    try:
        return ParamsFile.model_validate(params).model_dump()
    except ValidationError as error:
        raise ConfigError("\n".join(_message(e, source) for e in error.errors())) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key repeated in one mapping (PyYAML silently keeps the last); a key
    that overrides one merged in with ``<<: *anchor`` is not a repeat."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read ``path``, validate the whole file against :class:`ParamsFile` and return the values as a dict
    (``params["t2"]["ppo"]["num_envs"]``); raises :class:`ConfigError` naming the dotted key."""
    with open(path, encoding="utf-8") as handle:
        try:
            params = yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return validate_params(params, str(path))


def main(argv: list[str] | None = None) -> int:
    """``python -m ilola_lib.pipeline.config [PATH …] [--stamp FILE]``: validate params files (default
    ``params.yaml``); exit 1 naming the dotted keys. ``--stamp`` writes a constant line to FILE when every file
    is valid: the first DVC stage does this, so a bad params file stops ``dvc repro`` before any stage (and
    before DVC removes any stage's outputs), and a valid change does not rerun anything through the stamp."""
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["params.yaml"])
    parser.add_argument("--stamp", help="file to write when every params file is valid")
    args = parser.parse_args(argv)
    try:
        for path in args.paths:
            load_params(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if args.stamp:
        write_text(args.stamp, "params.yaml: valid (checked by python -m ilola_lib.pipeline.config)\n")
    print(f"{', '.join(args.paths)}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
