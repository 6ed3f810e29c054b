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
import re
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from ilola_lib.core.io import write_text


class ConfigError(ValueError):
    """A ``params.yaml`` value is missing or invalid; the message names the file and the dotted key."""


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------

SEED_LIMIT = 2**32  # numpy's SeedSequence words and the derived torch seeds are 32-bit unsigned
MAX_SEEDS = 100
MAX_SAMPLES_PER_UPDATE = 1_000_000  # env-steps of one PPO batch (or of the normaliser's rollouts)

# What PyYAML's YAML 1.1 resolver leaves as a string although it is a number: ``1e-3``, ``5E4``, ``2.5e3``.
_SCIENTIFIC = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")


def _scientific_string(value: Any) -> Any:
    """``'1e-3'`` → ``0.001``; every other value is left for the strict float check."""
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value):
        return float(value)
    return value


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _integer(description: str, minimum: int, maximum: int) -> Any:
    """A strict ``int`` (no bool, float or string) in ``[minimum, maximum]``."""
    expected = f"an integer in [{minimum}, {maximum}]"
    return Annotated[int, Field(ge=minimum, le=maximum, strict=True, description=f"{description}; {expected}",
                                json_schema_extra={"expected": expected})]


def _number(description: str, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
            le: float | None = None) -> Any:
    """A finite ``float`` (an int or a scientific-notation string is converted) within the given bounds."""
    low = f"({_bound(gt)}" if gt is not None else f"[{_bound(ge)}" if ge is not None else None
    high = f"{_bound(lt)})" if lt is not None else f"{_bound(le)}]" if le is not None else None
    if low and high:
        expected = f"a number in {low}, {high}"
    elif low:
        expected = f"a finite number {'>' if gt is not None else '≥'} {low[1:]}"
    else:
        expected = "a finite number"
    return Annotated[float, BeforeValidator(_scientific_string),
                     Field(gt=gt, ge=ge, lt=lt, le=le, allow_inf_nan=False, strict=True,
                           description=f"{description}; {expected}", json_schema_extra={"expected": expected})]


def _check_seeds(seeds: list) -> list:
    if not (1 <= len(seeds) <= MAX_SEEDS and len(set(seeds)) == len(seeds)
            and all(type(seed) is int and 0 <= seed < SEED_LIMIT for seed in seeds)):
        raise PydanticCustomError("seeds", "invalid seed list")
    return seeds


_SEEDS_EXPECTED = f"a list of 1 to {MAX_SEEDS} distinct integers in [0, {SEED_LIMIT - 1}]"
Seeds = Annotated[list, Field(strict=True, description=f"learner seeds; {_SEEDS_EXPECTED} (numpy/torch seeds)",
                              json_schema_extra={"expected": _SEEDS_EXPECTED}),
                  AfterValidator(_check_seeds)]  # on the whole list: an error names t1.seeds and shows the list

Probability = _number("a probability", ge=0, le=1)
Discount = _number("discount factor γ", gt=0, lt=1)
Positive = _number("a positive constant", gt=0)
LearningRate = _number("Adam / gradient step size", gt=0)
Workers = _integer("worker processes (the metrics do not depend on it)", 1, 64)
EvalEpisodes = _integer("evaluation episodes per policy", 20, 100_000)

# Shared by every inverse section
HeldOutEvery = _integer("every n-th update pair is held out", 2, 1000)
StatesPerPair = _integer("joint states sampled once per update pair", 2, 100_000)
FitPairStride = _integer("fit on every n-th fit pair", 1, 1000)
LogelRestarts = _integer("random restarts of I-LOGEL", 0, 100)
CmaGenerations = _integer("CMA-ES generations", 1, 10_000)
CmaPopsize = _integer("CMA-ES population size", 4, 1024)
CmaRestarts = _integer("IPOP-CMA-ES restarts of Stage B (0: a single run; each restart doubles the population)", 0, 8)
CmaSigma = _number("CMA-ES initial step size", gt=0)
EtaInit = _number("initial learning-rate estimate η of the learner models", gt=0)
RandomDraws = _integer("random unit ω per KL(rand)", 1, 10_000)
LbfgsIterations = _integer("L-BFGS iterations of every nuisance fit and Stage B polish", 1, 100_000)

# Shared by both PPO sections (ilola_lib.core.ppo.PPOHyperparameters)
NumUpdates = _integer("K, the number of PPO updates", 1, 100_000)
UpdateEpochs = _integer("passes over each batch", 1, 1000)
NumMinibatches = _integer("minibatches per epoch", 1, 4096)
ClipCoef = _number("PPO ratio clipping ε", gt=0)
GaeLambda = _number("GAE λ", ge=0, le=1)
EntCoef = _number("entropy bonus coefficient", ge=0)
VfCoef = _number("critic loss scale (before its own gradient clipping)", gt=0)
MaxGradNorm = _number("gradient-norm clipping of each actor and critic", gt=0)
HiddenSize = _integer("width of the two hidden layers of every actor and critic", 1, 4096)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _cross_field(message: str) -> PydanticCustomError:
    return PydanticCustomError("cross_field", "{message}", {"message": message})


def _check_held_out(task: str, num_updates: int, every: int) -> None:
    if num_updates < 2 * every:
        raise _cross_field(f"{task}.ppo.num_updates ({num_updates}) must be ≥ 2 × {task}.inverse.held_out_every "
                           f"({every}) so that pairs are both fitted and held out")


def _check_samples(key: str, samples: int) -> None:
    if samples > MAX_SAMPLES_PER_UPDATE:
        raise _cross_field(f"{key} ({samples}) must be ≤ {MAX_SAMPLES_PER_UPDATE} env-steps")


# --------------------------------------------------------------------------------------------
# T1: tabular grid world
# --------------------------------------------------------------------------------------------


class T1MaSpi(_Section):
    alpha: _number("MA-SPI temperature (known to the observer)", gt=0)


class T1Sampling(_Section):
    episodes: _integer("B episodes per phase sampled by the observer", 1, 1_000_000)
    horizon: _integer("steps per sampled episode", 1, 10_000)
    smoothing: _number("additive smoothing of count-based policy estimates", gt=0)


class T1Matched(_Section):
    pg_learning_rate: LearningRate
    lola_learning_rate: LearningRate
    lola_eta: _number("LOLA look-ahead step size", gt=0)


class InverseFit(_Section):
    """The fitting settings every task's Stage A/B and baselines share."""

    logel_restarts: LogelRestarts
    cma_generations: CmaGenerations
    cma_popsize: CmaPopsize
    cma_restarts: CmaRestarts
    cma_sigma: CmaSigma
    eta_init: EtaInit
    random_draws: RandomDraws
    lbfgs_iterations: LbfgsIterations


class T1(_Section):
    seeds: Seeds
    grid_size: _integer("side of the grid (6 × 6 has 1,296 joint states; exact tensors grow steeply)", 2, 6)
    gamma: Discount
    num_phases: _integer("K learner updates", 4, 1000)
    held_out_every: HeldOutEvery
    init_logit_std: _number("σ of the initial random logits θ^0 ~ N(0, σ²)", ge=0)
    workers: Workers
    ma_spi: T1MaSpi
    sampling: T1Sampling
    matched: T1Matched
    inverse: InverseFit

    @model_validator(mode="after")
    def _phases_hold_out_a_pair(self) -> Self:
        if self.num_phases < self.held_out_every:
            raise _cross_field(f"t1.num_phases ({self.num_phases}) must be ≥ t1.held_out_every "
                               f"({self.held_out_every}) so that at least one update pair is held out")
        return self


# --------------------------------------------------------------------------------------------
# T2: simple_spread, independent categorical PPO
# --------------------------------------------------------------------------------------------


class PPOSection(_Section):
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

    num_envs: _integer("parallel envs, one episode each per update", 1, 4096)
    num_steps: _integer("steps per env per update, a multiple of max_cycles", 1, 10_000)
    max_cycles: _integer("simple_spread episode length", 1, 10_000)
    normalizer_envs: _integer("envs of the frozen normaliser's random rollouts", 1, 4096)
    normalizer_steps: _integer("steps of the frozen normaliser's random rollouts", 1, 100_000)

    @model_validator(mode="after")
    def _whole_episodes_and_minibatches(self) -> Self:
        if self.num_steps % self.max_cycles:
            raise _cross_field(f"t2.ppo.num_steps ({self.num_steps}) must be a multiple of t2.ppo.max_cycles "
                               f"({self.max_cycles}) so that rollouts hold whole episodes")
        batch = self.num_envs * self.num_steps
        _check_samples("t2.ppo.num_envs × t2.ppo.num_steps", batch)
        if batch % self.num_minibatches:
            raise _cross_field(f"t2.ppo.num_minibatches ({self.num_minibatches}) must divide "
                               f"t2.ppo.num_envs × t2.ppo.num_steps ({batch})")
        _check_samples("t2.ppo.normalizer_envs × t2.ppo.normalizer_steps",
                       self.normalizer_envs * self.normalizer_steps)
        return self


class T2MaLfl(_Section):
    potential_degree: Annotated[int, Field(ge=1, le=2, strict=True,
                                           description="shaping potential: 1 (linear) or 2 (quadratic)",
                                           json_schema_extra={"expected": "1 (linear) or 2 (quadratic)"})]
    rollouts: _integer("Monte-Carlo rollouts per (state, agent, own action) for the soft Q-values", 1, 1000)


class TraceInverse(InverseFit):
    """The inversion of a recorded neural trace: which pairs and states are analysed, and the fits."""

    held_out_every: HeldOutEvery
    states_per_pair: StatesPerPair
    fit_pair_stride: FitPairStride


class T2Inverse(TraceInverse):
    ma_lfl: T2MaLfl


class NeuralTask(_Section):
    """A task whose PPO learners' traces are inverted: seeds, evaluation, workers, PPO and inversion."""

    seeds: Seeds
    eval_episodes: EvalEpisodes
    workers: Workers
    ppo: PPOSection
    inverse: TraceInverse

    @model_validator(mode="after")
    def _pairs_fit_and_held_out(self) -> Self:
        _check_held_out(self.task_key, self.ppo.num_updates, self.inverse.held_out_every)
        return self


class T2(NeuralTask):
    task_key: ClassVar[str] = "t2"
    local_ratio: _number("simple_spread's mix of the global coverage term and own collisions", ge=0, le=1)
    ppo: T2PPO
    inverse: T2Inverse


# --------------------------------------------------------------------------------------------
# T3: MultiWalker, independent Gaussian PPO
# --------------------------------------------------------------------------------------------


class T3PPO(PPOSection):
    """Every field of :class:`ilola_lib.tasks.t3.ppo.MultiWalkerPPOConfig` but the seed, ``num_agents`` (a
    task constant) and ``reward_weights`` (set by the induced-return code)."""

    max_cycles: _integer("MultiWalker episode length limit", 10, 10_000)
    episodes_per_update: _integer("complete episodes per update (one live env each)", 1, 1024)
    init_log_std: _number("initial log-σ of every Gaussian actor", ge=-5, le=2)
    normalizer_episodes: _integer("random episodes of the frozen normaliser", 1, 10_000)

    @model_validator(mode="after")
    def _bounded_batch(self) -> Self:
        _check_samples("t3.ppo.episodes_per_update × t3.ppo.max_cycles", self.episodes_per_update * self.max_cycles)
        return self


class T3Inverse(TraceInverse):
    mc_samples: _integer("Monte-Carlo KL: actions sampled per observation", 2, 100_000)


class T3(NeuralTask):
    task_key: ClassVar[str] = "t3"
    ppo: T3PPO
    inverse: T3Inverse


class ParamsFile(_Section):
    """The whole ``params.yaml`` (or ``profiles/*.yaml``)."""

    profile: Annotated[Literal["paper", "smoke"], Field(description="'paper' or 'smoke'",
                                                        json_schema_extra={"expected": "'paper' or 'smoke'"})]
    t1: T1
    t2: T2
    t3: T3


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
    """``yaml.SafeLoader`` that rejects a key repeated in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
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
