import os

# Quiet TF's C++ logs and keep progress bars out of test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DEEPEXPLAIN_NG_PROGRESS", "0")
