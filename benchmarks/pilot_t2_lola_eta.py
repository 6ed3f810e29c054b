"""The pilot that bounds the grid of ``t2_lola.ppo.lola_eta``: LOLA-PPO learners of one seed trained with several
look-ahead step sizes η (η = 0 is independent PPO bit for bit), everything else as ``params.yaml``'s ``t2_lola``
section.

Run from the repository root:
``python -m benchmarks.pilot_t2_lola_eta [--seed 0] [--updates 200] [--etas 0 2e-4 4e-4 1e-3]``.

Prints per η the median over updates of ‖η · LOLA correction‖ / ‖PPO loss gradient‖ (mean over agents and
minibatches) and the mean per-agent batch return of the first and last ten updates. On seed 0, η = 4e-4 slows
learning markedly and 1e-3 stops it, which bounds the grid {1e-4, 1.5e-4, 2e-4}; ``params.yaml`` takes the largest
grid value at which the learn stage's learners pass the learning bar in every seed (a choice on the learners alone,
made before any inversion).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2.learn import ppo_config
from ilola_lib.tasks.t2.ppo import train_ppo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--etas", type=float, nargs="+", default=[0.0, 1e-4, 2e-4, 4e-4, 1e-3])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = ppo_config(load_params("params.yaml")["t2_lola"], args.seed)
    print(f"{'η':>8} {'median ratio':>13} {'first-10 return':>16} {'last-10 return':>15} {'seconds':>8}")
    for eta in args.etas:
        start = time.perf_counter()
        run = train_ppo(dataclasses.replace(config, num_updates=args.updates, lola_eta=eta))
        ratio = np.median([entry["lola_norm_ratio"] for entry in run.history])
        curve = run.learning_curve
        print(f"{eta:8.1e} {ratio:13.3f} {np.mean(curve[:10]):16.2f} {np.mean(curve[-10:]):15.2f} "
              f"{time.perf_counter() - start:8.1f}", flush=True)


if __name__ == "__main__":
    main()
