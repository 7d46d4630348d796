"""Plumbing shared by the README scenario scripts (no TensorFlow here).

Each scenario is run as ``python <scenario>.py <mode>`` where mode is the name of the
``tf.compat.v1`` function that switches TF to graph mode for the whole process:
``disable_v2_behavior`` (what DeepExplain-era code calls) or ``disable_eager_execution``.
A script records every call with :func:`attempt` (value or exception) and ends with
:func:`emit`, which prints one JSON line that tests/test_deepexplain_readme.py checks.
"""
import json
import sys
import traceback

import numpy as np

MODES = ("disable_v2_behavior", "disable_eager_execution")
MODE = sys.argv[1] if len(sys.argv) > 1 else MODES[0]
if MODE not in MODES:
    raise SystemExit(f"mode must be one of {MODES}, got {MODE!r}")


def plain(value):
    """``value`` with numpy arrays/scalars turned into JSON-friendly lists and numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def error_record(error):
    return {"type": type(error).__name__,
            "message": str(error),
            "mro": [c.__name__ for c in type(error).__mro__],
            "is_runtime_error": isinstance(error, RuntimeError),
            "traceback": "".join(traceback.format_exception(error))[-2500:]}


def attempt(call):
    """``{"value": ..., "kind": "list"|"ndarray"|...}`` or ``{"error": {...}}`` for ``call()``."""
    try:
        value = call()
    except Exception as error:  # recorded: the test reports it as the scenario's failure
        return {"error": error_record(error)}
    return {"value": plain(value), "kind": type(value).__name__}


def expect_error(call):
    """``{"error": {...}}`` when ``call()`` raises, else ``{"no_error": value}``."""
    try:
        value = call()
    except Exception as error:
        return {"error": error_record(error)}
    return {"no_error": plain(value)}


def emit(result):
    result["mode"] = MODE
    sys.stdout.write("\n" + json.dumps(plain(result)) + "\n")
    sys.stdout.flush()
