"""Is a T2-style inversion's Stage B stuck? One seed's trace inverted again with more IPOP-CMA-ES restarts, beside the
committed result.

Run from the repository root, with the seed's trace present (``dvc repro <task>_learn@<seed>``):
``python -m benchmarks.diag_cma_restarts [--task t2_lola] [--seed 3] [--restarts 2]``.

Prints, for the committed inversion (``<task>.inverse.cma_restarts`` of ``params.yaml``) and for the rerun with
``--restarts``: I-LOLA's fitted look-ahead η̂ and training loss beside its η = 0 fit's, the held-out KL(1b) of both
and their difference, and the seconds each part took. I-LOLA's search space nests the η = 0 fit, so its training
loss can only be lower; when it equals the η = 0 fit's with η̂ at the bound while more restarts find a lower loss,
the committed search stopped at the nested start. About 30 min for one T2 seed with 2 restarts (11 without).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ilola_lib.core.io import read_json
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2 import invert as t2_inverse


def coupling_row(label: str, methods: dict) -> str:
    """One table row: I-LOLA against its η = 0 fit."""
    coupled, uncoupled = methods["ilola"], methods["ilola_eta0"]
    return (f"| {label} | {coupled['eta']:.3g} | {coupled['fit_loss']:.7f} | {uncoupled['fit_loss']:.7f} | "
            f"{coupled['kl_1b']:.6f} | {uncoupled['kl_1b']:.6f} | {coupled['kl_1b'] - uncoupled['kl_1b']:+.6f} | "
            f"{coupled['cosine']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="t2_lola", choices=["t2", "t2_lola"])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--restarts", type=int, default=2)
    args = parser.parse_args()
    config = load_params("params.yaml")[args.task]
    committed = read_json(Path(f"results/{args.task}/inverse/seed_{args.seed}.json"))
    rerun_config = {**config, "inverse": {**config["inverse"], "cma_restarts": args.restarts}}
    trace = load_neural_trace(Path(f"data/{args.task}/seed_{args.seed}/trace.npz"))
    start = time.perf_counter()
    metrics, seconds = t2_inverse.invert_seed(rerun_config, args.seed, trace)
    print(f"{args.task} seed {args.seed}: {time.perf_counter() - start:.0f} s with {args.restarts} restarts; "
          + ", ".join(f"{part} {value:.0f}" for part, value in seconds.items()))
    print("| Stage B restarts | η̂ | training loss I-LOLA | training loss η = 0 | KL(1b) I-LOLA | KL(1b) η = 0 | "
          "difference | cosine |\n|---|---|---|---|---|---|---|---|")
    print(coupling_row(f"{config['inverse']['cma_restarts']} (committed)", committed["methods"]))
    print(coupling_row(str(args.restarts), metrics["methods"]))


if __name__ == "__main__":
    main()
