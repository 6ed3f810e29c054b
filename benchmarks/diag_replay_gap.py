"""Where does the PPO replay learner model lose the walkers' updates? A white-box decomposition on T3.

The observer's replay differs from the learners' own update in three things it cannot see: the advantages
(its shadow critic's ``ω*·A^φ`` instead of the learner critic's GAE), the minibatch order (its own generator)
and the Adam moments (rebuilt by replaying every earlier update instead of the learner's). For one seed the
walkers are retrained (same seed and machine as ``t3_learn``, so the same trace: checked against
``data/t3/traces``) with a hook that records each learner's own advantages and actor Adam moments before
every update; the learners' minibatch orders are regenerated from their seed. Each analysed update is then
replayed with every combination below, at the true ``ω*``, and scored as EF(1a) is in the chapter (per-agent
step scales fitted on the fit pairs, KL on the held-out pairs' sampled states, ``EF = 1 − KL/KL(0)``):

    advantages        order      Adam moments
    own               own        own          → reproduces Δθ (EF ≈ 1): the replay itself is exact
    own               own        carried      → the optimiser state's share
    own               observer   own          → the minibatch order's share
    own               observer   carried      → both: the best any critic can do for this observer
    shadow (ω*)       own        own          → the critic's share alone
    shadow (ω*)       observer   carried      → the learner model of the chapter (its EF(1a))

"carried": Adam moments rebuilt from zero at θ^0 by replaying every update with the same advantages and
order, as the learner model does. Usage: ``python benchmarks/diag_replay_gap.py [seed ...]`` (default every T3
seed; ≈ 8 min per seed on one core). Prints one row per seed; ``--json PATH`` also writes the rows.

``--learner-like-critic`` instead asks whether a critic that *learns like the learners'* would close the gap,
on the committed traces (no retraining): a scalar critic of the learners' class on the true reward (an oracle
for ``ω``), with the return's offset and scale measured on ``D_0`` and the learners' raw squared error (the
shadow critic instead scales each feature's error to unit size), trained along the trace with the learners'
epochs, minibatches, learning rate and clipping from another initialisation. Its GAE advantages are replayed
with the observer's order and carried Adam state, and scored like the rows above.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from ilola_lib.core.io import read_json
from ilola_lib.core.metrics import explained_fraction
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import Critic, flatten_params
from ilola_lib.core.ppo import (
    ADAM_EPS,
    AgentBatch,
    AgentLearner,
    agent_batches,
    compute_gae,
    critic_minibatch_step,
    minibatch_indices,
)
from ilola_lib.core.seeds import learner_seeds
from ilola_lib.inverse.learner_models import NoUpdateModel, ReplayStepModel
from ilola_lib.inverse.policy_fit import PolicyFit
from ilola_lib.inverse.ppo_replay import AdamMoments, replay_actor_update
from ilola_lib.inverse.replay_methods import HeldOutScorer, fit_at, observer_replay
from ilola_lib.inverse.replay_model import ReplayTrace, replay_along_trace
from ilola_lib.inverse.shadow_critic import CriticSettings
from ilola_lib.inverse.trace_inversion import network_divergence
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t3.invert import trace_analysis
from ilola_lib.tasks.t3.learn import ppo_config
from ilola_lib.tasks.t3.ppo import train_multiwalker_ppo

VARIANTS = {  # name: (advantages, order, moments)
    "own / own / own": ("own", "own", "own"),
    "own / own / carried": ("own", "own", "carried"),
    "own / observer / own": ("own", "observer", "own"),
    "own / observer / carried": ("own", "observer", "carried"),
    "shadow / own / own": ("shadow", "own", "own"),
    "shadow / observer / carried": ("shadow", "observer", "carried"),
}


@dataclass
class LearnerState:
    """What the learners knew before each update ``k < K``: per agent their GAE advantages ``[B_k]`` and actor
    Adam state (steps taken, first and second moments ``[d]``)."""

    advantages: list[list[torch.Tensor]] = field(default_factory=list)
    moments: list[list[AdamMoments]] = field(default_factory=list)

    def observe(self, config):
        def hook(phase, learners, rollout) -> None:
            batches, _ = agent_batches(learners, rollout, config)
            self.advantages.append([batch.advantages.clone() for batch in batches])
            self.moments.append([adam_state(learner) for learner in learners])
        return hook


def adam_state(learner) -> AdamMoments:
    """The actor optimiser's state as one flat :class:`AdamMoments` (``flatten_params`` order)."""
    parameters = list(learner.actor.parameters())
    states = [learner.actor_optimizer.state.get(p, {}) for p in parameters]
    if not states[0]:
        return AdamMoments.zeros(flatten_params(learner.actor).numel())
    steps = {int(state["step"]) for state in states}
    assert len(steps) == 1, f"parameters took different numbers of Adam steps: {steps}"
    flat = [torch.cat([state[key].detach().reshape(-1) for state in states]).clone() for key in ("exp_avg", "exp_avg_sq")]
    return AdamMoments(steps.pop(), *flat)


def learner_orders(seed: int, state: LearnerState, settings) -> list[list[list[torch.Tensor]]]:
    """The learners' minibatch orders, drawn as :func:`ilola_lib.core.ppo.update_learners` draws them: one
    generator, update by update, agent by agent."""
    generator = torch.Generator().manual_seed(learner_seeds(seed)["minibatches"])
    return [[minibatch_indices(a.shape[0], settings.update_epochs, settings.num_minibatches, generator) for a in phase]
            for phase in state.advantages]


def replay_variant(replay: ReplayTrace, state: LearnerState, own_orders, variant: tuple[str, str, str],
                   unit_truth: torch.Tensor, phases: set[int]) -> torch.Tensor:
    """``Δθ^k`` ``[K, N, d]`` (float64, zero where not replayed) of one combination of :data:`VARIANTS`.
    With the learner's own moments only ``phases`` are replayed; carried moments need every update."""
    source, order, moments_from = variant
    steps = torch.zeros(replay.num_updates, replay.num_agents, replay.theta.shape[-1], dtype=torch.float64)
    for i in range(replay.num_agents):
        carried = AdamMoments.zeros(replay.theta.shape[-1]).expand(1)
        for k in range(replay.num_updates):
            if moments_from == "own" and k not in phases:
                continue
            advantages = (state.advantages[k][i][None] if source == "own"
                          else replay.advantages.linear_in(k, i, unit_truth[i][None]))
            orders = own_orders[k][i] if order == "own" else replay.orders[k][i]
            moments = state.moments[k][i] if moments_from == "own" else carried
            with torch.no_grad():
                after, carried = replay_actor_update(replay.templates[i], replay.theta[k, i], moments,
                                                     replay.batches[k][i], advantages, orders, replay.settings)
            steps[k, i] = (after[0] - replay.theta[k, i]).to(torch.float64)
    return steps


def diagnose(config: dict, seed: int) -> dict:
    settings = config["inverse"]
    ppo = ppo_config(config, seed)
    state = LearnerState()
    with single_threaded_torch():
        run = train_multiwalker_ppo(ppo, observe=state.observe(ppo))
    trace = run.trace
    committed = Path(f"data/t3/traces/seed_{seed}.npz")
    same_trace = (np.array_equal(load_neural_trace(committed).actor_params, trace.actor_params)
                  if committed.exists() else None)
    with single_threaded_torch():
        analysis = trace_analysis(trace, settings, seed)
        divergence = network_divergence(trace, analysis.templates, analysis.sample)
        shadow, replay = observer_replay(trace, analysis.templates, seed)
        own_orders = learner_orders(seed, state, replay.settings)
        pairs = analysis.pairs
        theta = torch.as_tensor(trace.actor_params[pairs], dtype=torch.float64)
        observed = torch.as_tensor(trace.actor_params[pairs + 1], dtype=torch.float64) - theta
        score = HeldOutScorer(divergence, analysis.held)
        kl_0 = score("kl_0", NoUpdateModel(theta), [PolicyFit(analysis.truth, np.zeros(0), np.nan)])["kl_0"]
        unit_truth = torch.as_tensor(analysis.truth / np.linalg.norm(analysis.truth, axis=-1, keepdims=True),
                                     dtype=torch.float32)
        row = {"seed": seed, "same_trace_as_committed": same_trace, "kl_0": kl_0,
               "learner_critic_explained_variance": float(np.mean([run.history[k]["explained_variance"]
                                                                    for k in pairs])),
               "shadow_critic_explained_variance": float(np.mean(shadow.explained_variance)),
               "training_return_first_last": [run.history[0]["training_return"], run.final_statistics["training_return"]],
               "variants": {}}
        replayed = {name: replay_variant(replay, state, own_orders, variant, unit_truth, set(pairs.tolist()))[pairs]
                    for name, variant in VARIANTS.items()}
        for name, steps in replayed.items():
            model = ReplayStepModel(theta, steps)
            fitted = fit_at(model, divergence, analysis.fit, analysis.truth, settings["lbfgs_iterations"])
            kl = score("kl", model, [fitted])["kl"]
            held_steps, held_observed = steps[analysis.held], observed[analysis.held]
            row["variants"][name] = {
                "ef": explained_fraction(kl, kl_0), "kl": kl,
                "cosine_to_observed": float(torch.nn.functional.cosine_similarity(
                    held_steps.flatten(2), held_observed.flatten(2), dim=-1).mean()),
                "max_abs_step_error": float((held_steps - held_observed).abs().max())}
        model_steps = replay_along_trace(replay, torch.as_tensor(analysis.truth[None])).steps[0, pairs]
        row["model_equals_replay_along_trace"] = bool(torch.equal(model_steps, replayed["shadow / observer / carried"]))
    chapter = Path(f"results/t3/inverse/seed_{seed}.json")
    if chapter.exists() and same_trace:
        row["chapter_ef_1a_replay"] = read_json(chapter)["learner_models"]["replay"]["ef_1a"]
    return row


def learner_like_advantages(trace, settings: CriticSettings, generator: torch.Generator) -> list[list[torch.Tensor]]:
    """Per update ``k < K`` and agent, the true reward's GAE advantages ``[B_k]`` from a scalar critic trained
    along the trace the way the learners train theirs (see the module docstring)."""
    valid = trace.valid_steps(0)
    rewards = torch.as_tensor(trace.rewards[0][valid], dtype=torch.float64)  # [B, N]
    offsets, scales = rewards.mean(0) / (1 - settings.gamma), rewards.std(0, correction=0) / (1 - settings.gamma)
    critics = [Critic(torch.as_tensor(trace.obs_mean[i]), torch.as_tensor(trace.obs_std[i]), settings.hidden_size,
                      generator, float(offsets[i]), float(scales[i])) for i in range(trace.num_agents)]
    optimizers = [torch.optim.Adam(c.parameters(), lr=settings.critic_learning_rate, eps=ADAM_EPS) for c in critics]
    advantages = []
    for phase in range(trace.num_phases):
        valid = torch.as_tensor(trace.valid_steps(phase))
        terminated = None if trace.terminated is None else torch.as_tensor(trace.terminated[phase])
        per_agent = []
        for i, (critic, optimizer) in enumerate(zip(critics, optimizers)):
            observations = torch.as_tensor(trace.observations[phase, :, :, i])
            with torch.no_grad():
                values = critic(observations)
                next_values = critic(torch.as_tensor(trace.final_observations[phase, :, :, i]))
                if terminated is not None:
                    next_values = next_values.masked_fill(terminated, 0.0)
                gae, returns = compute_gae(torch.as_tensor(trace.rewards[phase, :, :, i], dtype=torch.float32), values,
                                           next_values, torch.as_tensor(trace.dones[phase]), settings.gamma,
                                           settings.gae_lambda)
            per_agent.append(gae[valid])
            learner = AgentLearner(None, critic, None, optimizer)  # only the critic half is stepped
            batch = AgentBatch(observations[valid], None, None, gae[valid], returns[valid])
            for index in minibatch_indices(batch.returns.shape[0], settings.update_epochs, settings.num_minibatches,
                                           generator):
                critic_minibatch_step(learner, batch, index, settings)
        advantages.append(per_agent)
    return advantages


def learner_like_row(config: dict, seed: int) -> dict:
    """EF of the replay on a learner-like critic's advantages (observer order, carried Adam) on the committed
    trace, beside the chapter's learner model on the same pairs."""
    settings = config["inverse"]
    trace = load_neural_trace(f"data/t3/traces/seed_{seed}.npz")
    with single_threaded_torch():
        analysis = trace_analysis(trace, settings, seed)
        divergence = network_divergence(trace, analysis.templates, analysis.sample)
        critic_settings = CriticSettings.from_config(trace.metadata["config"])
        _, replay = observer_replay(trace, analysis.templates, seed)
        # another initialisation than the learners' (which the observer does not know) and the shadow critic's
        generator = torch.Generator().manual_seed(10_000 + seed)
        state = LearnerState(learner_like_advantages(trace, critic_settings, generator))
        pairs = analysis.pairs
        theta = torch.as_tensor(trace.actor_params[pairs], dtype=torch.float64)
        score = HeldOutScorer(divergence, analysis.held)
        kl_0 = score("kl_0", NoUpdateModel(theta), [PolicyFit(analysis.truth, np.zeros(0), np.nan)])["kl_0"]
        steps = {"learner-like critic / observer / carried":
                 replay_variant(replay, state, None, ("own", "observer", "carried"), None, set())[pairs],
                 "shadow / observer / carried":
                 replay_along_trace(replay, torch.as_tensor(analysis.truth[None])).steps[0, pairs]}
        row = {"seed": seed, "variants": {}}
        for name, variant_steps in steps.items():
            model = ReplayStepModel(theta, variant_steps)
            fitted = fit_at(model, divergence, analysis.fit, analysis.truth, settings["lbfgs_iterations"])
            row["variants"][name] = {"ef": explained_fraction(score("kl", model, [fitted])["kl"], kl_0)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="*", type=int)
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--learner-like-critic", action="store_true", help="the learner-like critic's rows instead")
    parser.add_argument("--ppo", nargs="*", default=[], metavar="KEY=VALUE",
                        help="retrain the walkers with these t3.ppo settings changed (e.g. critic_learning_rate=0.003): "
                             "does a learner critic that fits better raise the learner model's EF?")
    args = parser.parse_args()
    config = load_params("params.yaml")["t3"]
    if args.ppo:
        overrides = dict(item.split("=", 1) for item in args.ppo)
        unknown = set(overrides) - set(config["ppo"])
        assert not unknown, f"not t3.ppo settings: {sorted(unknown)}"
        config = {**config, "ppo": {**config["ppo"], **{key: yaml.safe_load(value) for key, value in overrides.items()}}}
        print(f"t3.ppo changed: {overrides} (traces differ from the committed ones; the chapter column does not apply)")
    if args.learner_like_critic:
        print("| seed | EF learner-like critic / observer / carried | EF shadow / observer / carried |\n|---|---|---|")
        for seed in args.seeds or config["seeds"]:
            row = learner_like_row(config, seed)
            print(f"| {seed} | " + " | ".join(f"{v['ef']:.3f}" for v in row["variants"].values()) + " |", flush=True)
        return
    rows = []
    names = list(VARIANTS)
    print("| seed | same trace | " + " | ".join(f"EF {n}" for n in names) + " | chapter EF(1a) |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for seed in args.seeds or config["seeds"]:
        row = diagnose(config, seed)
        rows.append(row)
        print(f"| {seed} | {row['same_trace_as_committed']} | "
              + " | ".join(f"{row['variants'][n]['ef']:.3f}" for n in names)
              + f" | {row.get('chapter_ef_1a_replay', float('nan')):.3f} |"
              + f" learners' critic EV {row['learner_critic_explained_variance']:.2f},"
              + f" shadow critic EV {row['shadow_critic_explained_variance']:.2f}, training return"
              + " {:.1f} → {:.1f}".format(*row["training_return_first_last"]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
