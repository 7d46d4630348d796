"""The batch job: the command's store holds what the explainer gives, rows that sum to the output
change where the method is complete, bad arguments exit 2 naming them, a failing chunk exits 1
naming it, and a job resumed after kills writes the same bytes as an uninterrupted one."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

zarr = pytest.importorskip("zarr")

from deepexplain_ng import DeepExplain  # noqa: E402
from deepexplain_ng.batch.store import RECORD  # noqa: E402
from deepexplain_ng.cli import main  # noqa: E402
from builders import cnn, samples  # noqa: E402

tf1 = tf.compat.v1


def write_cnn(path, seed=200):
    """A frozen CNN (8x8x1 -> 3 logits) as a .pb; returns its tensors' names."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 8, 8, 1), name="x")
        tf.identity(cnn(x, seed=seed), name="logits")
    Path(path).write_bytes(graph.as_graph_def().SerializeToString())
    return ["x:0"], ["logits:0"]


@pytest.fixture(scope="module")
def job_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    inputs, outputs = write_cnn(root / "cnn.pb")
    xs = np.abs(samples((37, 8, 8, 1), seed=201))
    np.save(root / "rows.npy", xs)
    np.save(root / "labels.npy", np.arange(37) % 3)
    return root, ["--inputs", *inputs, "--outputs", *outputs], xs


def _explain(root, model_args, output, *extra):
    return main(["explain", str(root / "cnn.pb"), *model_args, "--input", str(root / "rows.npy"),
                 "--output", str(output), "--quiet", *extra])


def _reference(root, xs, method, ys, **options):
    graph = tf.Graph()
    with graph.as_default():
        graph_def = tf1.GraphDef.FromString((root / "cnn.pb").read_bytes())
        tf1.import_graph_def(graph_def, name="")
    with tf1.Session(graph=graph) as session, DeepExplain(session=session) as de:
        x, t = graph.get_tensor_by_name("x:0"), graph.get_tensor_by_name("logits:0")
        maps = de.explain(method, t, x, xs, ys=ys, **options)
        return maps, session.run(t, {x: xs})


def test_store_holds_the_explainer_s_maps_and_complete_rows(job_files, tmp_path):
    root, model_args, xs = job_files
    assert _explain(root, model_args, tmp_path / "a.zarr", "--method", "deeplift", "--labels",
                    str(root / "labels.npy"), "--chunk-rows", "10", "--batch-size", "4") == 0
    store = zarr.open_group(str(tmp_path / "a.zarr"), mode="r")
    labels = np.arange(37) % 3
    maps, logits = _reference(root, xs, "deeplift", labels)
    scale = np.abs(maps).max()
    np.testing.assert_allclose(store["attributions"][:], maps, rtol=0, atol=1e-5 * scale)
    np.testing.assert_array_equal(store["target"][:], labels)
    np.testing.assert_allclose(store["score"][:], logits[np.arange(37), labels], rtol=1e-6, atol=1e-6)
    _, zero_logits = _reference(root, np.zeros_like(xs), "saliency", labels)
    np.testing.assert_allclose(store["baseline_score"][:], zero_logits[np.arange(37), labels], rtol=1e-6, atol=1e-6)
    # DeepLIFT's rows sum to S(x) - S(baseline) (the ReLU CNN: exactly, up to float32)
    gap = store["attribution_sum"][:] - (store["score"][:] - store["baseline_score"][:])
    assert np.abs(gap).max() < 1e-4 * np.abs(store["score"][:]).max()
    assert store.attrs["job"]["method"] == "deeplift" and "tensorflow_version" in store.attrs


def test_predicted_class_and_one_class(job_files, tmp_path):
    root, model_args, xs = job_files
    assert _explain(root, model_args, tmp_path / "p.zarr", "--method", "saliency") == 0
    assert _explain(root, model_args, tmp_path / "c.zarr", "--method", "saliency", "--class", "2") == 0
    _, logits = _reference(root, xs, "saliency", None)
    predicted = zarr.open_group(str(tmp_path / "p.zarr"), mode="r")
    np.testing.assert_array_equal(predicted["target"][:], logits.argmax(axis=1))
    assert "attribution_sum" not in predicted  # saliency has no completeness property
    np.testing.assert_array_equal(zarr.open_group(str(tmp_path / "c.zarr"), mode="r")["target"][:], 2)


def test_bad_arguments_exit_2_naming_them(job_files, tmp_path, capsys):
    root, model_args, xs = job_files
    np.save(tmp_path / "wrong.npy", xs[:, :4])
    np.save(tmp_path / "short.npy", np.zeros(5, int))
    cases = [
        (["--method", "intgrad", "--option", "stepz=3"], "stepz"),
        (["--method", "no_such_method"], "no_such_method"),
        (["--method", "intgrad", "--labels", str(tmp_path / "short.npy")], "--labels: expected 37"),
        (["--method", "intgrad", "--chunk-rows", "0"], "--chunk-rows"),
    ]
    for extra, expected in cases:
        assert _explain(root, model_args, tmp_path / "bad.zarr", *extra) == 2
        assert expected in capsys.readouterr().err
    code = main(["explain", str(root / "cnn.pb"), *model_args, "--input", str(tmp_path / "wrong.npy"),
                 "--output", str(tmp_path / "bad.zarr"), "--method", "saliency", "--quiet"])
    assert code == 2 and "(8, 8, 1)" in capsys.readouterr().err
    assert not (tmp_path / "bad.zarr").exists()
    assert _explain(root, model_args, tmp_path / "s.zarr", "--method", "saliency") == 0
    assert _explain(root, model_args, tmp_path / "s.zarr", "--method", "grad*input") == 2
    assert "method: store has 'saliency', this command 'grad*input'" in capsys.readouterr().err
    assert _explain(root, model_args, tmp_path / "s.zarr", "--method", "grad*input", "--overwrite") == 0


def test_a_failing_chunk_exits_1_naming_it_and_keeps_the_others(job_files, tmp_path, capsys):
    root, model_args, xs = job_files
    broken = xs.copy()
    broken[25] = np.nan
    np.save(tmp_path / "rows.npy", broken)
    for name in ("cnn.pb", "labels.npy"):
        os.symlink(root / name, tmp_path / name)
    code = main(["explain", str(tmp_path / "cnn.pb"), *model_args, "--input", str(tmp_path / "rows.npy"),
                 "--output", str(tmp_path / "n.zarr"), "--method", "saliency", "--chunk-rows", "10", "--quiet"])
    assert code == 1 and "chunk 2 (rows 20-30)" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "n.zarr")]) == 0
    assert "20 of 37 rows (2 of 4 chunks of 10)" in capsys.readouterr().out


# -- kills and Ctrl-C: the command in processes of its own ------------------------------------------

def _command(root, model_args, output, *extra):
    return [sys.executable, "-m", "deepexplain_ng", "explain", str(root / "cnn.pb"), *model_args, "--input",
            str(root / "rows.npy"), "--output", str(output), "--method", "intgrad", "--option", "steps=400",
            "--chunk-rows", "1", "--batch-size", "64", *extra]


def _start(command):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", DEEPEXPLAIN_NG_PROGRESS="0")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines, first = [], threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if line.startswith("chunk "):
                first.set()
        first.set()

    threading.Thread(target=read, daemon=True).start()
    return process, lines, first


def _chunk_files(path):
    """Every chunk file of the store's arrays: {relative path: bytes}."""
    files = {}
    for array in ("attributions", "target", "score", "baseline_score", "attribution_sum"):
        for name in (Path(path) / array / "c").rglob("*"):
            if name.is_file():
                files[str(name.relative_to(path))] = name.read_bytes()
    return files


@pytest.mark.examples
def test_ctrl_c_then_kill_9_at_random_moments_then_resume_gives_the_same_bytes(job_files, tmp_path):
    """The first run is stopped by Ctrl-C (exit 130 once the chunk in flight is written), the
    next ten by kill -9 at random moments of their writing; the job is resumed each time."""
    root, model_args, xs = job_files
    rows = 40
    np.save(tmp_path / "rows.npy", np.abs(samples((rows, 8, 8, 1), seed=203)))
    os.symlink(root / "cnn.pb", tmp_path / "cnn.pb")
    whole = _command(tmp_path, model_args, tmp_path / "whole.zarr", "--quiet")
    assert main(whole[whole.index("explain"):]) == 0  # the same command, uninterrupted, in this process
    rng = random.Random(202)
    written, kills, interrupted = [], 0, False
    for _ in range(rows + 1):
        process, lines, first = _start(_command(tmp_path, model_args, tmp_path / "killed.zarr"))
        first.wait(120)  # the process is writing chunks: stop it at a random moment after that
        # once it has written 2 to 4 chunks (1 when ten kills need the rest), plus a random
        # fraction of a chunk's time: the moments do not depend on the machine's speed
        spare = rows - len(written) - 3 * (11 - kills - interrupted)
        wanted = rng.choice([2, 3, 4]) if spare > 0 else 1
        while process.poll() is None and sum(line.startswith("chunk ") for line in lines) < wanted:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.01))
        finished = process.poll() is not None
        if not finished and not interrupted:
            process.send_signal(signal.SIGINT)
            assert process.wait(60) == 130
            interrupted = True
        elif not finished:
            process.kill()
            kills += 1
        process.wait()
        time.sleep(0.05)  # the reader thread takes the last lines
        written += [line.split(":")[0] for line in lines if line.startswith("chunk ")]
        if interrupted and kills == 0 and not finished:
            assert any("run the same command to resume" in line for line in lines), lines
        if finished and process.returncode == 0:
            break
    assert interrupted and kills >= 10, kills
    # a chunk's line is printed after it is recorded: no recorded chunk was computed again on
    # resume (a kill between the record and the print leaves a chunk recorded but unprinted)
    assert len(set(written)) == len(written) and set(written) <= {f"chunk {i}" for i in range(rows)}, written
    assert zarr.open_group(str(tmp_path / "killed.zarr"), mode="r").attrs[RECORD]["finished"] == list(range(rows))
    whole, killed = _chunk_files(tmp_path / "whole.zarr"), _chunk_files(tmp_path / "killed.zarr")
    assert len(whole) == 5 * rows and whole == killed

def test_inputs_are_read_from_npz_zarr_and_image_folders(tmp_path):
    from skimage import data, io, transform

    from deepexplain_ng.batch.sources import open_input

    xs = samples((5, 4, 4, 2), seed=204)
    np.savez(tmp_path / "two.npz", rows=xs, other=xs[:1])
    np.testing.assert_array_equal(open_input(f"{tmp_path / 'two.npz'}:rows")[1:3], xs[1:3])
    zarr.create_array(str(tmp_path / "rows.zarr"), data=xs, chunks=(2, 4, 4, 2))
    np.testing.assert_array_equal(open_input(str(tmp_path / "rows.zarr"))[3:5], xs[3:5])
    folder = tmp_path / "images"
    folder.mkdir()
    io.imsave(folder / "a.png", data.camera()[::8, ::8])                # grey, 64 x 64
    io.imsave(folder / "b.png", data.astronaut()[::16, ::16])          # RGB, 32 x 32
    images = open_input(str(folder), image_size=16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.float32
    rows = images[0:2]
    grey = transform.resize(data.camera()[::8, ::8] / 255.0, (16, 16), anti_aliasing=True)
    np.testing.assert_allclose(rows[0], np.repeat(grey[..., None], 3, axis=2), atol=1e-6)
    colour = transform.resize(data.astronaut()[::16, ::16] / 255.0, (16, 16, 3), anti_aliasing=True)
    np.testing.assert_allclose(rows[1], colour, atol=1e-6)


def test_a_job_pickles_as_its_description_and_an_explainer_says_to_send_a_job(job_files):
    import pickle

    from deepexplain_ng import ExplainError
    from deepexplain_ng.batch.job import Job

    root, model_args, xs = job_files
    job = Job(str(root / "cnn.pb"), "deeplift", inputs=["x:0"], outputs=["logits:0"])
    before = job.run(xs[:3], "predicted")
    copy = pickle.loads(pickle.dumps(job))
    assert copy == job and vars(copy) == vars(job)  # only the description travels
    np.testing.assert_array_equal(copy.run(xs[:3], "predicted")["attributions"], before["attributions"])
    with pytest.raises(ExplainError, match="batch.Job"):
        pickle.dumps(job.build())
