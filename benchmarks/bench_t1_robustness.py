"""T1 robustness of the assumption-matched fits: do they reach their global optimum on every seed?

    python benchmarks/bench_t1_robustness.py [--grids 3 5] [--seeds 11 12 13 14 15] [--restarts 0 2]

On grids and seeds other than the paper profile's, runs the matched analyses of T1 (Stage A and B on exact
naive-gradient learners, Stage B on exact LOLA learners; every other setting from ``params.yaml``) once per
number of IPOP-CMA-ES restarts, and prints per seed the cosine, the Stage B training loss and the fitted η
(true η of the LOLA learners: ``t1.matched.lola_eta · ‖ω*‖``). A matched fit at its global optimum has a
training loss at round-off (< 1e-8) and cosine 1.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t1 import experiment as t1
from ilola_lib.tasks.t1.gridworld import make_gridworld

OPTIMUM_LOSS = 1e-8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", nargs="+", type=int, default=[3, 5])
    parser.add_argument("--seeds", nargs="+", type=int, default=[11, 12, 13, 14, 15])
    parser.add_argument("--restarts", nargs="+", type=int, default=[0, 2])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    params = load_params("params.yaml")["t1"]
    for grid in args.grids:
        true_eta = params["matched"]["lola_eta"] * np.linalg.norm(make_gridworld(grid, params["gamma"]).true_weights[0])
        for restarts in args.restarts:
            config = dict(params, grid_size=grid, inverse=dict(params["inverse"], cma_restarts=restarts))
            reached = 0
            for seed in args.seeds:
                start = time.perf_counter()
                methods = t1.run_seed(config, seed, args.workers, analyses=("matched_lola", "matched_pg"))["methods"]
                lola, pg = methods["ilola_matched_lola"], methods["ilogel_matched_pg"]
                at_optimum = lola["fit_loss"] < OPTIMUM_LOSS
                reached += at_optimum
                print(f"{grid}×{grid} restarts {restarts} seed {seed}: ilola_matched_lola cosine {lola['cosine']:.6f} "
                      f"loss {lola['fit_loss']:.2g} η̂ {lola['eta']:.4g} (true {true_eta:.4g}) "
                      f"{'optimum' if at_optimum else 'STUCK'}; ilogel_matched_pg cosine {pg['cosine']:.6f}  "
                      f"[{time.perf_counter() - start:.0f} s]", flush=True)
            print(f"{grid}×{grid} restarts {restarts}: optimum on {reached}/{len(args.seeds)} seeds\n", flush=True)


if __name__ == "__main__":
    main()
