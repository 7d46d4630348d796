"""What every example shares: its command line and where its picture goes."""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def parse_args(description):
    """``--out`` (picture directory, created) and ``--samples`` (inputs to explain)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default="out", help="directory for the pictures (default: out)")
    parser.add_argument("--samples", type=int, default=4, help="inputs to explain")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def save(fig, out, name):
    """Write ``fig`` to ``out/name`` and say where."""
    path = os.path.join(out, name)
    fig.savefig(path, bbox_inches="tight")
    print(f"wrote {os.path.abspath(path)}")
    return path
