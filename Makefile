# Two commands do all the set-up themselves on a fresh machine: `make test`, `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test demo clean test-onednn-off test-tf1

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-test: $(BIN)/python setup.py requirements.txt
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-examples: $(BIN)/python setup.py requirements.txt
	$(BIN)/python -m pip install --quiet -e ".[examples]"
	touch $@

# The suite, then its numerical tests again with oneDNN off (other CPU kernels: other last bits,
# as on another CPU) and as a TF1 program (tf.compat.v1.disable_v2_behavior()). The two reruns
# go side by side (their small graphs leave a core idle: 72 s instead of 111 s on 2 cores), each
# one's output printed whole when it ends.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests
	$(MAKE) --no-print-directory -j2 --output-sync=target test-onednn-off test-tf1

test-onednn-off: $(VENV)/.installed-test
	TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -q -p no:cacheprovider -m "not examples" tests

test-tf1: $(VENV)/.installed-test
	DEEPEXPLAIN_NG_TF1=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m "not examples" tests

demo: $(VENV)/.installed-examples
	$(BIN)/python examples/compare_methods.py --out out

clean:
	rm -rf $(VENV) out
