"""The field types of the ``params.yaml`` schema (:mod:`ilola_lib.pipeline.config`): integers and finite floats
with their ranges and descriptions, seeds, and the cross-field checks the sections share."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ilola_lib.core.protocol import analysed_pairs, validation_pairs

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


def integer_field(description: str, minimum: int, maximum: int) -> Any:
    """A strict ``int`` (no bool, float or string) in ``[minimum, maximum]``."""
    expected = f"an integer in [{minimum}, {maximum}]"
    return Annotated[int, Field(ge=minimum, le=maximum, strict=True, description=f"{description}; {expected}",
                                json_schema_extra={"expected": expected})]


def number_field(description: str, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
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

Discount = number_field("discount factor γ", gt=0, lt=1)
LearningRate = number_field("Adam / gradient step size", gt=0)
Workers = integer_field("worker processes (the metrics do not depend on it)", 1, 64)
EvalEpisodes = integer_field("evaluation episodes per policy", 20, 100_000)
TrueRewardTrainings = integer_field("trainings on the true reward per seed (the learners' own run and replications with other training seeds): the induced return's noise floor", 2, 100)

# Shared by every inverse section
HeldOutEvery = integer_field("every n-th update pair is held out", 2, 1000)
StatesPerPair = integer_field("joint states sampled once per update pair", 2, 100_000)
FitPairStride = integer_field("fit on every n-th fit pair", 1, 1000)
LogelRestarts = integer_field("random restarts of I-LOGEL", 0, 100)
CmaGenerations = integer_field("CMA-ES generations", 1, 10_000)
CmaPopsize = integer_field("CMA-ES population size", 4, 1024)
CmaRestarts = integer_field("IPOP-CMA-ES restarts of Stage B (0: a single run; each restart doubles the population)", 0, 8)
CmaSigma = number_field("CMA-ES initial step size", gt=0)
EtaInit = number_field("initial learning-rate estimate η of the learner models", gt=0)
RandomDraws = integer_field("random unit ω per KL(rand)", 1, 10_000)
LbfgsIterations = integer_field("L-BFGS iterations of every nuisance fit and Stage B polish", 1, 100_000)

# Shared by both PPO sections (ilola_lib.core.ppo.PPOHyperparameters)
NumUpdates = integer_field("K, the number of PPO updates", 1, 100_000)
UpdateEpochs = integer_field("passes over each batch", 1, 1000)
NumMinibatches = integer_field("minibatches per epoch", 1, 4096)
ClipCoef = number_field("PPO ratio clipping ε", gt=0)
GaeLambda = number_field("GAE λ", ge=0, le=1)
EntCoef = number_field("entropy bonus coefficient", ge=0)
VfCoef = number_field("critic loss scale (before its own gradient clipping)", gt=0)
MaxGradNorm = number_field("gradient-norm clipping of each actor and critic", gt=0)
HiddenSize = integer_field("width of the two hidden layers of every actor and critic", 1, 4096)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def cross_field_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("cross_field", "{message}", {"message": message})


def check_held_out(task: str, num_updates: int, every: int) -> None:
    if num_updates < 2 * every:
        raise cross_field_error(f"{task}.ppo.num_updates ({num_updates}) must be ≥ 2 × {task}.inverse.held_out_every "
                           f"({every}) so that pairs are both fitted and held out")


def check_warm_up(task: str, num_updates: int, every: int, fraction: float) -> None:
    try:
        analysed_pairs(num_updates, every, 1, fraction)
    except ValueError:
        raise cross_field_error(f"{task}.inverse.warm_up_fraction ({fraction}) leaves no fit or no held-out pair "
                                f"of {num_updates} updates") from None


def check_validation(task: str, num_updates: int, inverse) -> None:
    """When ``validation_stride`` is set: some fit pairs are left unfitted by ``fit_pair_stride`` (Stage B's
    validation pairs are drawn from them) and Stage B re-linearises at least once (Stage A's exact replay rides on
    that pass)."""
    if inverse.validation_stride is None:
        return
    if inverse.replay_linearisations < 1:
        raise cross_field_error(f"{task}.inverse.validation_stride needs {task}.inverse.replay_linearisations ≥ 1 "
                                f"(got {inverse.replay_linearisations})")
    try:
        validation_pairs(num_updates, inverse.held_out_every, inverse.fit_pair_stride, inverse.warm_up_fraction,
                         inverse.validation_stride)
    except ValueError as error:
        raise cross_field_error(f"{task}.inverse.validation_stride ({inverse.validation_stride}): "
                                f"{task}.inverse.{error}") from None


def check_samples(key: str, samples: int) -> None:
    if samples > MAX_SAMPLES_PER_UPDATE:
        raise cross_field_error(f"{key} ({samples}) must be ≤ {MAX_SAMPLES_PER_UPDATE} env-steps")
