import os

# Quiet TF's C++ logs and keep progress bars out of test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")

# DEEPEXPLAIN_NG_TF1=1 runs the suite as DeepExplain-era programs run: TF1 behaviour throughout
# (`tf.compat.v1.disable_v2_behavior()`: v1 shapes with Dimension objects, graph mode, v1
# control flow), so every numerical test also checks the package there.
TF1_MODE = os.environ.get("DEEPEXPLAIN_NG_TF1") == "1"
if TF1_MODE:
    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()


def pytest_collection_modifyitems(config, items):
    import pytest

    if not TF1_MODE:
        return
    for item in items:
        if item.get_closest_marker("eager"):
            item.add_marker(pytest.mark.skip(reason="needs eager execution (Keras 3 builds eagerly), "
                                                    "which a TF1-mode program has switched off"))
