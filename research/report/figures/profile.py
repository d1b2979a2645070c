"""Performance profile across tasks (Dolan & Moré 2002; AlgoPerf, Dahl et al. 2023)."""

from __future__ import annotations

from matplotlib.figure import Figure

from research.report.analysis import MAX_CURVES, Profile
from research.report.figures import new_figure, style
from research.report.figures.colors import group_color


def performance_profile(profile: Profile, colors: dict[str, tuple[float, ...]]) -> Figure:
    """The methods with the best scores (all of them are in the HTML table)."""
    methods = sorted(profile.methods, key=lambda m: -profile.scores[m])[:MAX_CURVES]
    shown = (
        ""
        if len(methods) == len(profile.methods)
        else f", best {len(methods)} of {len(profile.methods)} drawn, "
        f"{len(profile.methods) - len(methods)} left out (all in the table)"
    )
    with style():
        fig = new_figure(9, 5 + 0.25 * len(methods))
        ax = fig.subplots()
        for method in methods:
            ax.step(
                profile.taus,
                profile.rho[method],
                where="post",
                color=group_color(colors, method),
                label=f"{method} (score {profile.scores[method]:.3f})",
            )
        ax.set_xlim(1.0, profile.taus.max())
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("performance ratio τ (steps to target / fewest steps on the task)")
        ax.set_ylabel("fraction of tasks with ratio ≤ τ")
        ax.set_title(f"performance profile over {len(profile.tasks)} tasks{shown}")
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig
