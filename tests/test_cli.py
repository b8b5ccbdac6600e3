"""Tests for the ``tinygrad-nn`` command line (tinygrad_nn.cli), mostly run in-process."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn.data import load_digits_splits
from tinygrad_nn.digits.cli import main
from tinygrad_nn.digits.experiment import PRESETS
from tinygrad_nn.hooks import stateful
from tinygrad_nn.nn import MLP
from tinygrad_nn.optim import SGD
from tinygrad_nn.train import evaluate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TUTORIAL_ARGS = [
    "digits",
    "--preset",
    "tutorial",
    "--seeds",
    "1",
    "--epochs",
    "5",
    "--lambdas",
    "0.1",
    "1",
    "--jobs",
    "1",
    "--no-progress",
]


def _run(args):
    """Call the CLI in-process; return its exit code."""
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def tutorial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tutorial")
    assert _run([*TUTORIAL_ARGS, "--out", out]) == 0
    return out


def _results(out):
    return json.loads((Path(out) / "results.json").read_text())


def _check_stats(stats, n_seeds):
    assert set(stats) >= {"mean", "std", "per_seed"}
    assert len(stats["per_seed"]) == n_seeds
    assert stats["mean"] == pytest.approx(np.mean(stats["per_seed"]))
    assert stats["std"] == pytest.approx(np.std(stats["per_seed"]))
    assert stats["std"] >= 0


def _check_preset_entry(entry, lambdas, seeds):
    for key in ("test_accuracy", "valid_accuracy", "seconds"):
        _check_stats(entry[key], len(seeds))
    for acc in entry["test_accuracy"]["per_seed"] + entry["valid_accuracy"]["per_seed"]:
        assert 0.0 <= acc <= 1.0
    assert entry["seconds"]["mean"] > 0
    assert entry["seeds"] == seeds
    assert len(entry["best_lambda"]) == len(seeds)
    assert all(lam in lambdas for lam in entry["best_lambda"])


# ----------------------------------------------------------------------------- tutorial run


def test_tutorial_run_results_schema(tutorial_run):
    res = _results(tutorial_run)
    assert set(res) >= {"tutorial_reported", "presets", "settings", "versions"}
    assert res["tutorial_reported"] == {
        "best_lambda": 0.599484,
        "valid_accuracy": 0.96473,
        "test_accuracy": 0.959596,
    }
    assert list(res["presets"]) == ["tutorial"]  # the preset not run is absent
    entry = res["presets"]["tutorial"]
    _check_preset_entry(entry, [0.1, 1.0], [0])
    # the reported validation accuracy is the best of the search for that seed
    assert entry["valid_accuracy"]["per_seed"][0] == max(entry["search_valid_accuracy"][0])
    settings = res["settings"]["presets"]["tutorial"]
    assert settings["epochs"] == 5
    assert settings["lambdas"] == [0.1, 1.0]
    assert settings["sizes"] == [64, 48, 32, 10]
    assert settings["optimizer"] == "sgd" and settings["lr"] == 0.2
    assert settings["momentum"] == 0.9 and settings["batch_size"] is None
    assert settings["scale_inputs"] is False
    assert res["settings"]["seeds"] == [0]
    assert "best" not in res["settings"]["presets"]
    versions = res["versions"]
    assert versions["tinygrad_nn"] == tg.__version__
    assert versions["numpy"] == np.__version__
    assert "python" in versions


def test_tutorial_run_writes_pictures(tutorial_run):
    for name in ("lambda_curve.png", "loss_curves.png", "confusion_matrix.png"):
        data = (tutorial_run / name).read_bytes()
        assert len(data) > 1000, name
        assert data.startswith(PNG_SIGNATURE), name


def test_tutorial_run_writes_graphs_and_report(tutorial_run):
    for name in ("graph.svg", "graph_collapsed.svg"):
        assert "<svg" in (tutorial_run / name).read_text(), name
    assert (tutorial_run / "report.html").stat().st_size > 0


def test_tutorial_run_model_is_loadable(tutorial_run):
    path = tutorial_run / "model.npz"
    model = tg.load(path)
    assert isinstance(model, MLP)
    assert model.sizes == [64, 48, 32, 10]
    assert model.activation == "sigmoid" and model.output_activation == "sigmoid"
    _, meta = tg.load_state(path)
    res = _results(tutorial_run)["presets"]["tutorial"]
    user = meta["user"]
    assert user["preset"] == "tutorial"
    assert user["seed"] == 0
    assert user["best_lambda"] == res["best_lambda"][0]
    assert user["test_accuracy"] == pytest.approx(res["test_accuracy"]["per_seed"][0])
    # the saved model really scores what results.json says (raw pixels for the tutorial)
    splits = load_digits_splits(scale=False)
    _, acc = evaluate(model, splits.X_test, splits.y_test)
    assert acc == pytest.approx(res["test_accuracy"]["per_seed"][0])


def test_tutorial_run_prints_table(tmp_path, capsys):
    assert _run([*TUTORIAL_ARGS, "--lambdas", "0.5", "--epochs", "1", "--out", tmp_path]) == 0
    out = capsys.readouterr().out
    assert "tutorial (reported)" in out
    assert "0.599484" in out
    assert _results(tmp_path)["presets"]["tutorial"]["best_lambda"] == [0.5]


# ----------------------------------------------------------------------------- best and both


def test_best_preset_short_run(tmp_path):
    args = ["digits", "--preset", "best", "--epochs", "1", "--seeds", "1", "--lambdas", "0.01"]
    assert _run([*args, "--jobs", "1", "--no-progress", "--out", tmp_path]) == 0
    res = _results(tmp_path)
    assert list(res["presets"]) == ["best"]
    entry = res["presets"]["best"]
    _check_preset_entry(entry, [0.01], [0])
    assert entry["best_lambda"] == [0.01]
    settings = res["settings"]["presets"]["best"]
    assert settings["epochs"] == 1 and settings["scale_inputs"] is True
    model = tg.load(tmp_path / "model.npz")
    assert isinstance(model, MLP)
    assert tuple(model.sizes) == PRESETS["best"].spec.sizes
    assert model.output_activation is None
    splits = load_digits_splits(scale=True)
    _, acc = evaluate(model, splits.X_test, splits.y_test)
    assert acc == pytest.approx(entry["test_accuracy"]["per_seed"][0])
    for name in ("lambda_curve.png", "loss_curves.png", "confusion_matrix.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE)


def _console_script():
    script = Path(sys.executable).parent / "tinygrad-nn"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tinygrad_nn.digits.cli"]


def test_console_script_both_presets(tmp_path):
    out = tmp_path / "both"
    args = ["digits", "--preset", "both", "--epochs", "1", "--seeds", "1", "--lambdas", "0.01"]
    proc = subprocess.run(
        [*_console_script(), *args, "--jobs", "1", "--no-progress", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "tutorial (reported)" in proc.stdout
    res = _results(out)
    assert list(res["presets"]) == ["tutorial", "best"]
    for entry in res["presets"].values():
        _check_preset_entry(entry, [0.01], [0])
    assert set(res["settings"]["presets"]) == {"tutorial", "best"}
    # the model kept is the last preset's (best)
    assert tuple(tg.load(out / "model.npz").sizes) == PRESETS["best"].spec.sizes


# ----------------------------------------------------------------------------- resume


def _count_steps(monkeypatch, crash_at=None):
    """Count SGD steps taken in this process; optionally raise KeyboardInterrupt at one.

    The counter is itself a traced call, so compiled training steps replay it too.
    """
    calls = {"n": 0}
    real = SGD.step.__wrapped__  # the update without its trace-recording wrapper

    def step(self):
        calls["n"] += 1
        if crash_at is not None and calls["n"] == crash_at:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(SGD, "step", stateful(step))
    return calls


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*.npz"))}


def _same_results(a, b):
    ra, rb = _results(a)["presets"], _results(b)["presets"]
    assert list(ra) == list(rb)
    for name in ra:
        for key in ("test_accuracy", "valid_accuracy"):
            assert ra[name][key]["per_seed"] == rb[name][key]["per_seed"]
        assert ra[name]["best_lambda"] == rb[name]["best_lambda"]
        assert ra[name]["search_valid_accuracy"] == rb[name]["search_valid_accuracy"]
    sa, sb = tg.load_state(Path(a) / "model.npz")[0], tg.load_state(Path(b) / "model.npz")[0]
    assert list(sa) == list(sb)
    for k in sa:
        assert np.array_equal(sa[k], sb[k])


def test_interrupted_run_resumes_to_the_same_result(tmp_path, tutorial_run, monkeypatch, capsys):
    out = tmp_path / "run"
    # crash during the second lambda's third epoch (5 full-batch steps per lambda)
    calls = _count_steps(monkeypatch, crash_at=8)
    assert _run([*TUTORIAL_ARGS, "--out", out]) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err
    assert not (out / "results.json").exists()

    calls = _count_steps(monkeypatch)
    assert _run([*TUTORIAL_ARGS, "--out", out, "--resume"]) == 0
    # the first lambda's finished checkpoint was reused: only the second one was trained
    assert calls["n"] == 5
    _same_results(out, tutorial_run)


def test_resume_after_completed_run_reuses_checkpoints(tmp_path, tutorial_run, monkeypatch):
    out = tmp_path / "copy"
    shutil.copytree(tutorial_run, out)
    before = _snapshot(out / "checkpoints")
    assert len(before) == 2  # one per lambda
    calls = _count_steps(monkeypatch)
    assert _run([*TUTORIAL_ARGS, "--out", out, "--resume"]) == 0
    assert calls["n"] == 0  # nothing retrained
    assert _snapshot(out / "checkpoints") == before
    _same_results(out, tutorial_run)

    # without --resume the checkpoints are cleared and everything is trained again
    assert _run([*TUTORIAL_ARGS, "--out", out]) == 0
    assert calls["n"] == 10
    _same_results(out, tutorial_run)


def _with(args, option, value):
    """TUTORIAL_ARGS with ``option`` set to ``value``."""
    args = list(args)
    args[args.index(option) + 1] = value
    return args


def _one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("tinygrad-nn: error: ") and "Traceback" not in err
    return lines[0]


def test_resume_with_other_settings_refuses_naming_them(tmp_path, tutorial_run, capsys):
    out = tmp_path / "copy"
    shutil.copytree(tutorial_run, out)
    before = _snapshot(out / "checkpoints")
    results = (out / "results.json").read_text()
    changed = [*TUTORIAL_ARGS, "--lr", "0.05", "--momentum", "0.5"]
    assert _run([*changed, "--out", out, "--resume"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "lr 0.05 (checkpoint: 0.2)" in line and "momentum 0.5 (checkpoint: 0.9)" in line
    assert "tutorial-seed0-lam" in line
    assert _snapshot(out / "checkpoints") == before  # nothing retrained or overwritten
    assert (out / "results.json").read_text() == results


def test_resume_with_more_epochs_extends_a_constant_lr_run(tmp_path, tutorial_run, monkeypatch):
    out, fresh = tmp_path / "extended", tmp_path / "fresh"
    shutil.copytree(tutorial_run, out)  # 5 epochs
    longer = _with(TUTORIAL_ARGS, "--epochs", "8")
    calls = _count_steps(monkeypatch)
    assert _run([*longer, "--out", out, "--resume"]) == 0
    assert calls["n"] == 2 * 3  # three more full-batch epochs for each lambda
    assert _run([*longer, "--out", fresh]) == 0
    _same_results(out, fresh)


def test_resume_with_more_epochs_refuses_when_the_lr_decays(tmp_path, capsys):
    args = ["digits", "--preset", "best", "--seeds", "1", "--lambdas", "0.01", "--jobs", "1"]
    args += ["--no-progress", "--out", tmp_path]
    assert _run([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert _run([*args, "--epochs", "2", "--resume"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "epochs 2 (checkpoint: 1)" in line and "schedule" in line


def test_worker_checkpoint_error_reaches_the_user_whole(tmp_path, tutorial_run, capsys):
    out = tmp_path / "copy"
    shutil.copytree(tutorial_run, out)
    bad = out / "checkpoints" / "tutorial-seed0-lam1.npz"
    bad.write_bytes(bad.read_bytes()[:300])
    assert _run([*_with(TUTORIAL_ARGS, "--jobs", "2"), "--out", out, "--resume"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert f"{bad}: is truncated or damaged" in line


# ----------------------------------------------------------------------------- the run folder

HOLDER = """
import sys
from tinygrad_nn.digits.folder import locked
with locked(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@contextlib.contextmanager
def _held_by_another_process(folder):
    """A second process holding ``folder``'s lock for the ``with`` block; yields its pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc.pid
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0


def test_second_run_on_a_folder_in_use_exits_1_naming_the_owner(tmp_path, tutorial_run, capsys):
    out = tmp_path / "busy"
    shutil.copytree(tutorial_run, out)
    before = _snapshot(out / "checkpoints")
    with _held_by_another_process(out) as pid:
        assert _run([*TUTORIAL_ARGS, "--out", out]) == 1
        line = _one_error_line(capsys.readouterr().err)
        assert str(out) in line and f"pid {pid}" in line
        assert (out / ".tinygrad-nn.lock").read_text().strip() == str(pid)
    # the owner's checkpoints were not touched; the lock is gone with its owner
    assert _snapshot(out / "checkpoints") == before
    assert not (out / ".tinygrad-nn.lock").exists()
    assert _run([*TUTORIAL_ARGS, "--out", out, "--resume"]) == 0


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    out = tmp_path / "stale"
    out.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    (out / ".tinygrad-nn.lock").write_text(dead.stdout)
    assert _run([*_with(TUTORIAL_ARGS, "--epochs", "1"), "--out", out]) == 0
    assert "error" not in capsys.readouterr().err
    assert not (out / ".tinygrad-nn.lock").exists()


def test_lock_is_released_when_a_run_fails_or_is_interrupted(tmp_path, monkeypatch):
    from tinygrad_nn.digits.folder import locked

    out = tmp_path / "run"
    _count_steps(monkeypatch, crash_at=2)
    assert _run([*TUTORIAL_ARGS, "--out", out]) == 130
    assert not (out / ".tinygrad-nn.lock").exists()
    with locked(out), locked(out):  # free again, and re-entrant within one process
        assert (out / ".tinygrad-nn.lock").read_text().strip() == str(os.getpid())
    assert not (out / ".tinygrad-nn.lock").exists()


def test_stale_temp_files_are_removed_on_start(tmp_path, tutorial_run):
    out = tmp_path / "killed"
    shutil.copytree(tutorial_run, out)
    stale = [
        out / "checkpoints" / ".tutorial-seed0-lam0.npz.k2j4x9.tmp",  # a killed write_file
        out / ".model.npz.a8d7f1.tmp",
        out / ".results.json.tmp",
        out / ".report.html.tmp",
    ]
    for path in stale:
        path.write_bytes(b"PK\x03\x04 half a file")
    keep = [out / "notes.tmp", out / "checkpoints" / "mine.tmp"]  # not ours: left alone
    for path in keep:
        path.write_text("keep me")
    assert _run([*TUTORIAL_ARGS, "--out", out, "--resume"]) == 0
    assert [p for p in stale if p.exists()] == []
    assert all(p.read_text() == "keep me" for p in keep)


# ----------------------------------------------------------------------------- bad arguments


def _bad_args(tmp_path):
    """name -> (arguments, a fragment the error line must contain)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = tmp_path / "never"
    return {
        "negative epochs": (["digits", "--epochs", "-1", "--out", out], "--epochs"),
        "zero epochs": (["digits", "--epochs", "0", "--out", out], "--epochs"),
        "word epochs": (["digits", "--epochs", "many", "--out", out], "--epochs"),
        "lambdas without values": (["digits", "--lambdas", "--out", out], "--lambdas"),
        "negative lambda": (["digits", "--lambdas", "-1", "--out", out], "--lambdas"),
        "nan lambda": (["digits", "--lambdas", "0.1", "nan", "--out", out], "--lambdas"),
        "unwritable out": (["digits", "--out", blocker / "sub"], "--out"),
        "unknown preset": (["digits", "--preset", "fastest", "--out", out], "fastest"),
        "zero seeds": (["digits", "--seeds", "0", "--out", out], "--seeds"),
        "zero jobs": (["digits", "--jobs", "0", "--out", out], "--jobs"),
        "momentum one": (["digits", "--momentum", "1", "--out", out], "--momentum"),
        "zero lr": (["digits", "--lr", "0", "--out", out], "--lr"),
        "zero hidden": (["digits", "--hidden", "0", "--out", out], "--hidden"),
        "unknown option": (["digits", "--turbo", "--out", out], "--turbo"),
    }


BAD_CASES = [
    "negative epochs",
    "zero epochs",
    "word epochs",
    "lambdas without values",
    "negative lambda",
    "nan lambda",
    "unwritable out",
    "unknown preset",
    "zero seeds",
    "zero jobs",
    "momentum one",
    "zero lr",
    "zero hidden",
    "unknown option",
]


def _assert_usage_error(err):
    """argparse's usage line first, then exactly one error line, last; no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("usage: tinygrad-nn")
    error_lines = [line for line in lines if "error:" in line]
    assert len(error_lines) == 1
    assert lines[-1] == error_lines[0]
    assert re.match(r"tinygrad-nn( digits)?: error: \S", lines[-1])


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_arguments_exit_2_with_one_error_line(tmp_path, capsys, case):
    args, fragment = _bad_args(tmp_path)[case]
    with pytest.raises(SystemExit) as info:
        _run(args)
    assert info.value.code == 2
    captured = capsys.readouterr()
    _assert_usage_error(captured.err)
    assert fragment in captured.err.splitlines()[-1]
    assert captured.out == ""
    assert not (tmp_path / "never").exists()


def test_unwritable_out_names_the_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SystemExit):
        _run(["digits", "--out", blocker / "sub"])
    err = capsys.readouterr().err
    assert "--out" in err and str(blocker / "sub") in err


@pytest.mark.parametrize("args", [[], ["train"]])
def test_missing_or_unknown_command_exits_2(capsys, args):
    with pytest.raises(SystemExit) as info:
        _run(args)
    assert info.value.code == 2
    _assert_usage_error(capsys.readouterr().err)


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        _run(["digits", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--preset", "--epochs", "--lambdas", "--resume", "--no-progress"):
        assert option in out


@pytest.mark.parametrize("content", [b"not an npz at all", None])
def test_run_time_failure_exits_1_with_one_line(tmp_path, capsys, content):
    model = tmp_path / "model.npz"
    if content is not None:
        model.write_bytes(content)
    code = _run(["graph", "--model", model, "--out", tmp_path / "g.svg"])
    assert code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("tinygrad-nn: error:")
    assert "model.npz" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize("hostile", ["huge sizes", "deep metadata", "pickle"])
def test_graph_of_a_hostile_model_file_exits_1_cheaply(tmp_path, capsys, hostile):
    import pickle

    model = tmp_path / "model.npz"
    if hostile == "pickle":
        model.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif hostile == "deep metadata":
        with open(model, "wb") as f:
            np.savez(f, __meta__=np.array("[" * 50_000 + "]" * 50_000))
    else:
        tg.save(MLP([64, 16, 10], rng=0), model)
        state, meta = tg.load_state(model)
        meta["config"]["sizes"] = [64, 100_000, 100_000, 10]  # 75 GiB if built
        meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
        tg.serialize.write_file(model, state, meta)
    assert _run(["graph", "--model", model, "--out", tmp_path / "g.svg"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert str(model) in line and "pickle.load" not in line and "allow_pickle" not in line
    assert not (tmp_path / "g.svg").exists()


def test_missing_extra_exits_1_with_one_line(tmp_path):
    model = tmp_path / "model.npz"
    tg.save(MLP([4, 3, 2], rng=0), model)
    code = (
        "import sys; sys.modules['graphviz'] = None  # as if the viz extra were not installed\n"
        "from tinygrad_nn.digits.cli import main\n"
        f"sys.exit(main(['graph', '--model', {str(model)!r}, '--out', {str(tmp_path)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    line = _one_error_line(proc.stderr)
    assert 'pip install "tinygrad-nn[viz]"' in line
