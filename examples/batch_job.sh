#!/usr/bin/env bash
# A batch job from the command line: train and save the digits CNN, explain 2,000 digits into a
# zarr store, interrupt the job (Ctrl-C: it finishes the chunk in flight), resume it with the same
# command, and show what the store holds.
#
#     bash examples/batch_job.sh [OUT]        (default OUT: out/batch; needs `make demo`'s .venv or
#                                              `pip install -e .[batch]`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-out/batch}"
python="${PYTHON:-$here/../.venv/bin/python}"
[ -x "$python" ] || python=python3
export TF_CPP_MIN_LOG_LEVEL=3
mkdir -p "$out"

"$python" "$here/digits_keras.py" --out "$out" --rows 2000
command=("$python" -m deepexplain_ng explain "$out/digits.keras" --method intgrad --input "$out/digits.npy"
         --output "$out/maps.zarr" --labels "$out/labels.npy" --option steps=64 --chunk-rows 100)

# start the job, interrupt it once it has written a few chunks
"${command[@]}" --overwrite 2> "$out/first_run.log" &
job=$!
until [ "$(grep -c '^chunk ' "$out/first_run.log" 2>/dev/null)" -ge 3 ] || ! kill -0 "$job" 2>/dev/null; do
    sleep 0.2
done
kill -INT "$job" 2>/dev/null || true
status=0
wait "$job" || status=$?
echo "first run: exit $status after $(grep -c '^chunk ' "$out/first_run.log") chunks ($( [ $status -eq 130 ] && echo interrupted || echo finished))"
"$python" -m deepexplain_ng info "$out/maps.zarr" | grep '^progress'


# the same command (without --overwrite) resumes where it stopped
"${command[@]}" 2> "$out/second_run.log"
echo "second run: $(grep -c '^chunk ' "$out/second_run.log") more chunks"
"$python" -m deepexplain_ng info "$out/maps.zarr"
