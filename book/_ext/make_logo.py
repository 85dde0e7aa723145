"""Draw the course logo and favicon (run once; the outputs are committed).

    python book/_ext/make_logo.py

An autoencoder as an hourglass: an encoder narrowing to a bottleneck, a decoder
widening again, and a red dot that it does not reconstruct (the anomaly).
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Polygon  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "_static"
BLUE, TEAL, RED, INK = "#2b5d8c", "#3c9d9b", "#d1495b", "#22313f"


def draw(ax, with_text: bool) -> None:
    ax.add_patch(Polygon([(0.0, 0.0), (0.0, 1.0), (0.42, 0.62), (0.42, 0.38)], closed=True, color=BLUE))
    ax.add_patch(Polygon([(1.0, 0.0), (1.0, 1.0), (0.58, 0.62), (0.58, 0.38)], closed=True, color=TEAL))
    ax.add_patch(Polygon([(0.42, 0.38), (0.42, 0.62), (0.58, 0.62), (0.58, 0.38)], closed=True, color=INK))
    for y in (0.2, 0.4, 0.6, 0.8):
        ax.add_patch(Circle((0.12, y), 0.045, color="white"))
        ax.add_patch(Circle((0.88, y), 0.045, color="white"))
    ax.add_patch(Circle((0.88, 0.8), 0.075, color=RED))
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    if with_text:
        ax.text(1.2, 0.62, "Autoencoders", fontsize=30, color=INK, va="center", fontweight="bold")
        ax.text(1.2, 0.28, "for anomaly detection", fontsize=22, color=INK, va="center")


def main() -> None:
    fig = plt.figure(figsize=(6.0, 1.6))
    ax = fig.add_axes([0.0, 0.0, 0.27, 1.0])
    draw(ax, with_text=True)
    ax.set_clip_on(False)
    fig.savefig(HERE / "logo.png", transparent=True, dpi=100)
    plt.close(fig)

    fig = plt.figure(figsize=(1, 1))
    ax = fig.add_axes([0, 0, 1, 1])
    draw(ax, with_text=False)
    fig.savefig(HERE / "favicon.png", transparent=True, dpi=64)
    plt.close(fig)


if __name__ == "__main__":
    main()
