"""AU intensities over time with matplotlib (an optional dependency)."""
import re


def _au_names(df, aus):
    have = [c[:-2] for c in df.columns if re.fullmatch(r"AU\d+_r", c)]
    if aus is None:
        return have
    names = []
    for a in ([aus] if isinstance(aus, str) else aus):
        n = str(a)
        n = n[:-2] if n.endswith(("_r", "_c")) else n
        if re.fullmatch(r"\d+", n):
            n = f"AU{int(n):02d}"
        if n not in have:
            raise ValueError(f"no {n}_r column (the CSV has {', '.join(have) or 'no AU intensities'})")
        names.append(n)
    return names


def plot_aus(df, aus=None, *, path=None, title=None):
    """Plots AU intensities (AU*_r) over time, one panel per AU, with the frames where the AU is
    present (AU*_c = 1) shaded. df: a DataFrame from analyze() or read_csv(); aus: names such as
    "AU12", ["AU06", "AU12"] or 12 (default every AU in df). x is the timestamp when there is one
    (seconds), else the row. path: also save the figure there (PNG, SVG, ...). Returns the
    matplotlib Figure (not managed by pyplot: no GUI backend needed; notebooks display it).
    Needs matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover
        raise ImportError("faceau.plot_aus needs matplotlib (apt-get install python3-matplotlib)") from e
    names = _au_names(df, aus)
    if not names:
        raise ValueError("nothing to plot: no AU*_r columns")
    if "timestamp" in df.columns:
        x, xlabel = df["timestamp"].to_numpy(), "time (s)"
    else:
        x, xlabel = range(len(df)), "row"
    fig = Figure(figsize=(10, 1.6 * len(names) + 0.8), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, n in zip(axes, names):
        y = df[f"{n}_r"].to_numpy()
        ax.plot(x, y, color="tab:blue", linewidth=1.0)
        if f"{n}_c" in df.columns:
            present = df[f"{n}_c"].to_numpy() > 0.5
            ax.fill_between(x, 0, 5, where=present, color="tab:orange", alpha=0.25, step="mid",
                            linewidth=0, label="present")
        ax.set_ylim(0, 5)
        ax.set_ylabel(n)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
