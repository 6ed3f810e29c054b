"""The poster's reported numbers and the "poster vs. this artifact" comparison table."""

from __future__ import annotations

from ilola_lib.analysis.summary import format_interval, markdown_rows

# (task, quantity, poster value as printed on the poster)
POSTER_NUMBERS = (
    ("t1", "kl_1a", "≈ 9e-6"),
    ("t1", "kl_1b", "≈ 9e-6"),
    ("t2", "kl_1a", "≈ 1.03e-6"),
    ("t2", "kl_1b", "≈ 1.09e-6"),
    ("t3", "kl_1b_mc", "≈ 5e-4"),
    ("t3", "induced_normalized", "≈ random"),
)

# Methods shown per task: the task's central method first, then its baselines.
TASK_METHODS = {"t1": ("ma_lfl", "ma_lfl_exact", "ilola"), "t2": ("ilola", "ilogel", "ma_lfl"),
                "t3": ("ilola", "ilogel")}

WHY = {
    "t1": "The poster's learners barely moved, so every KL was tiny. Here MA-SPI learns for K phases "
          "from random policies: read KL(1a)/KL(1b) against KL(0), the cost of predicting no update.",
    "t2": "The poster's PPO learners ran a handful of updates and ended worse than random. Here the PPO "
          "learners train for K updates and end better than both random and no-op actions, so their "
          "policies move: read KL(1b) against KL(0), the cost of predicting no update.",
    "t3": "The poster's MultiWalker numbers came from a dummy stand-in environment with action-independent "
          "random rewards, so they measured noise. Here the walkers run on the real Box2D physics, learn to "
          "keep the package up (beating both random actions and standing still), and the KLs are closed form "
          "with the Monte-Carlo estimate beside them: read KL(1b) against KL(0).",
}


def poster_table(summaries: dict[str, dict]) -> str:
    """Markdown rows: poster value beside this artifact's mean [95% CI] and KL(0), per task present."""
    rows = []
    for task, quantity, poster_value in POSTER_NUMBERS:
        summary = summaries.get(task)
        if summary is None:
            rows.append([task, "—", quantity, poster_value, "not yet run", "—"])
            continue
        for method in TASK_METHODS[task]:
            metrics = summary["methods"].get(method, {})
            if quantity not in metrics:
                continue
            floor = format_interval(metrics["kl_0"]) if "kl_0" in metrics else "—"
            rows.append([task, f"`{method}`", quantity, poster_value, format_interval(metrics[quantity]), floor])
    return markdown_rows(("task", "method", "quantity", "poster", "this artifact", "KL(0) here"), rows)


def why_markdown() -> str:
    """Markdown bullets: per task, why its numbers differ from the poster's (:data:`WHY`)."""
    return "\n".join(f"- **{task}**: {text}" for task, text in WHY.items())
