"""Tests for tinygrad_nn.serialize: npz + JSON metadata, no pickle, atomic writes."""

import json
import os

import numpy as np
import pytest

import tinygrad_nn as tg
from tinygrad_nn import serialize
from tinygrad_nn.nn import MLP, Linear, Module
from tinygrad_nn.serialize import CheckpointError, load, load_state, save


def _x(n_in, dtype=np.float32):
    return tg.Tensor(np.random.default_rng(0).normal(size=(6, n_in)).astype(dtype))


class Custom(Module):
    def __init__(self, seed=0):
        self.enc = Linear(3, 4, rng=seed)
        self.dec = Linear(4, 2, rng=seed + 1)

    def forward(self, x):
        return self.dec(self.enc(x).relu())


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sizes": [5, 4, 3], "activation": "relu", "output_activation": None},
        {"sizes": [64, 48, 32, 10], "activation": "sigmoid", "output_activation": "sigmoid"},
        {"sizes": [3, 2], "activation": "tanh", "output_activation": None, "dtype": "float64"},
    ],
)
def test_mlp_round_trip(tmp_path, kwargs):
    model = MLP(rng=3, **kwargs)
    path = tmp_path / "model.npz"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is MLP
    assert loaded.config() == model.config()
    assert loaded.sizes == model.sizes
    assert loaded.activation == model.activation
    assert loaded.output_activation == model.output_activation
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), loaded.named_parameters()):
        assert n1 == n2
        assert p1.dtype == p2.dtype
        assert np.array_equal(p1.data, p2.data)
    x = _x(model.sizes[0], model.fc1.weight.dtype)
    assert np.array_equal(model(x).data, loaded(x).data)


def test_linear_round_trip(tmp_path):
    for bias in (True, False):
        layer = Linear(4, 3, bias=bias, rng=1, dtype=np.float64)
        path = tmp_path / f"linear-{bias}.npz"
        save(layer, path)
        loaded = load(path)
        assert type(loaded) is Linear
        assert (loaded.bias is None) == (not bias)
        assert loaded.weight.dtype == np.float64
        assert np.array_equal(loaded.weight.data, layer.weight.data)
        x = _x(4, np.float64)
        assert np.array_equal(layer(x).data, loaded(x).data)


@pytest.mark.parametrize("name", ["model", "model.bin", "weights.npz.bak", "m.NPZ"])
def test_written_to_exactly_the_path_given(tmp_path, name):
    path = tmp_path / name
    save(MLP([3, 2], rng=0), path)
    assert sorted(os.listdir(tmp_path)) == [name]
    assert isinstance(load(path), MLP)
    assert isinstance(load(str(path)), MLP)


def test_no_pickle_and_meta_is_unicode_json(tmp_path):
    path = tmp_path / "model.npz"
    save(MLP([4, 3, 2], rng=0), path, note="hello")
    with np.load(path, allow_pickle=False) as npz:
        files = set(npz.files)
        assert files == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "__meta__"}
        meta_arr = npz["__meta__"]
        arrays = {k: npz[k] for k in npz.files}
    assert meta_arr.ndim == 0
    assert meta_arr.dtype.kind == "U"
    meta = json.loads(str(meta_arr))
    assert meta["format"] == "tinygrad_nn"
    assert meta["class"] == "tinygrad_nn.nn.MLP"
    assert meta["config"]["sizes"] == [4, 3, 2]
    assert meta["user"] == {"note": "hello"}
    for k, v in arrays.items():
        if k != "__meta__":
            assert v.dtype != object


def test_load_state_returns_arrays_and_metadata(tmp_path):
    model = MLP([4, 3, 2], rng=0)
    path = tmp_path / "m.npz"
    save(model, path, epoch=7, tag="run-1", score=0.5)
    state, meta = load_state(path)
    assert set(state) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert np.array_equal(state[k], v)
        assert state[k].dtype == v.dtype
    assert meta["user"] == {"epoch": 7, "tag": "run-1", "score": 0.5}
    assert meta["class"] == "tinygrad_nn.nn.MLP"
    assert meta["config"] == model.config()
    assert "version" in meta


def test_custom_module_needs_load_state(tmp_path):
    model = Custom(seed=0)
    path = tmp_path / "custom.npz"
    save(model, path)
    with pytest.raises(CheckpointError) as info:
        load(path)
    msg = str(info.value)
    assert "load_state" in msg
    assert str(path) in msg
    rebuilt = Custom(seed=10)
    x = _x(3)
    assert not np.array_equal(rebuilt(x).data, model(x).data)
    state, meta = load_state(path)
    assert meta["class"] == "test_serialize.Custom"
    rebuilt.load_state_dict(state)
    assert np.array_equal(rebuilt(x).data, model(x).data)


def test_save_rejects_non_modules(tmp_path):
    with pytest.raises(TypeError):
        save({"w": np.zeros(2)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


# ----------------------------------------------------------------------------- bad files


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)
    err = CheckpointError("some/path.npz", "broken")
    assert "some/path.npz" in str(err) and "broken" in str(err)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "nope.npz")


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "model.npz"
    save(MLP([20, 16, 10], rng=0), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert str(path) in str(info.value)
    with pytest.raises(CheckpointError):
        load_state(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.npz"):
        load(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the weights you are looking for\n" * 20)
    with pytest.raises(CheckpointError, match="notes.txt"):
        load(path)


def test_plain_npz_without_meta(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, **MLP([3, 2], rng=0).state_dict())
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert str(path) in str(info.value)
    with pytest.raises(CheckpointError):
        load_state(path)


def test_plain_npy_file(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(10.0))
    with pytest.raises(CheckpointError, match="array.npy"):
        load(path)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, __meta__=np.array([{"format": "tinygrad_nn"}], dtype=object))
    with pytest.raises(CheckpointError):
        load(path)


@pytest.mark.parametrize(
    "meta",
    [
        "not json {",
        json.dumps([1, 2, 3]),
        json.dumps({"format": "someone-else", "version": 1}),
        json.dumps({"format": "tinygrad_nn", "version": 999, "kind": "module"}),
        json.dumps({"format": "tinygrad_nn", "version": "1", "kind": "module"}),
    ],
)
def test_foreign_or_bad_metadata(tmp_path, meta):
    path = tmp_path / "odd.npz"
    np.savez(path, __meta__=np.array(meta), w=np.zeros(3))
    with pytest.raises(CheckpointError, match="odd.npz"):
        load(path)


def test_metadata_that_does_not_match_arrays(tmp_path):
    path = tmp_path / "liar.npz"
    save(MLP([4, 3, 2], rng=0), path)
    state, meta = load_state(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    meta["config"]["sizes"] = [4, 5, 2]
    serialize.write_file(path, state, meta)
    with pytest.raises(CheckpointError, match="liar.npz"):
        load(path)


# ----------------------------------------------------------------------------- atomic writes


def _leftovers(folder, keep):
    return sorted(set(os.listdir(folder)) - set(keep))


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = MLP([4, 3, 2], rng=0)
    save(old, path)
    before = path.read_bytes()

    def broken_savez(file, *args, **kwds):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save(MLP([4, 3, 2], rng=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, ["model.npz"]) == []
    loaded = load(path)
    assert np.array_equal(loaded.fc1.weight.data, old.fc1.weight.data)


def test_failed_replace_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save(MLP([4, 3, 2], rng=0), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        save(MLP([4, 3, 2], rng=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path, ["model.npz"]) == []


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    def broken_savez(file, *args, **kwds):
        raise RuntimeError("crash")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(RuntimeError):
        save(MLP([3, 2], rng=0), tmp_path / "new.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_overwrite_replaces_contents(tmp_path):
    path = tmp_path / "model.npz"
    save(MLP([4, 3, 2], rng=0), path)
    second = MLP([4, 3, 2], rng=1)
    save(second, path)
    assert np.array_equal(load(path).fc1.weight.data, second.fc1.weight.data)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_in_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save(MLP([3, 2], rng=0), "here.npz")
    assert os.listdir(tmp_path) == ["here.npz"]
    assert isinstance(load("here.npz"), MLP)


def test_reserved_array_name(tmp_path):
    with pytest.raises(ValueError):
        serialize.write_file(tmp_path / "x.npz", {"__meta__": np.zeros(1)}, {})


# ----------------------------------------------------------------------------- hostile files

NOT_OUR_WORDS = (
    "allow_pickle",
    "pickle.load",
    "unsafe",
    "trust",
    "Object arrays",
    "Failed to interpret",
    "File is not a zip file",
    "Bad CRC",
    "Errno",
)


def _pickled_object_npy(path):
    with open(path, "wb") as f:  # (np.save would add ".npy" to the name)
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _npz_with_object_entry(path):
    meta = np.array(json.dumps({"format": "tinygrad_nn", "version": 2, "kind": "module"}))
    with open(path, "wb") as f:
        np.savez(f, __meta__=meta, w=np.array([{"a": 1}, None], dtype=object))


def _pickle_file(path):
    import pickle

    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))


def _truncated(path):
    save(MLP([20, 16, 10], rng=0), path)
    path.write_bytes(path.read_bytes()[:-200])


def _bad_crc(path):
    save(MLP([20, 16, 10], rng=0), path)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first array's values
    path.write_bytes(bytes(data))


FOREIGN = {
    "pickle": _pickle_file,
    "object npy": _pickled_object_npy,
    "object entry": _npz_with_object_entry,
    "truncated": _truncated,
    "bad checksum": _bad_crc,
    "text": lambda p: p.write_text("weights = [1, 2, 3]\n"),
    "zip of text": lambda p: __import__("zipfile").ZipFile(p, "w").writestr("a.txt", "hello"),
}


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_bad_files_are_refused_in_our_own_words(tmp_path, kind):
    path = tmp_path / "model.npz"
    FOREIGN[kind](path)
    for reader in (load, load_state, serialize.read_file):
        with pytest.raises(CheckpointError) as info:
            reader(path)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and "\n" not in message
        for fragment in NOT_OUR_WORDS:
            assert fragment.lower() not in message.lower(), (fragment, message)


def test_object_arrays_are_never_unpickled(tmp_path, monkeypatch):
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("the loader unpickled something")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    path = tmp_path / "model.npz"
    _npz_with_object_entry(path)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load(path)


def _peak_bytes(fn):
    """(result or exception, peak bytes traced while running fn)."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            outcome = fn()
        except Exception as err:  # noqa: BLE001 - returned to the caller to check
            outcome = err
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _rewrite_meta(path, change):
    state, meta = load_state(path)
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "library")}
    change(meta)
    serialize.write_file(path, state, meta)


@pytest.mark.parametrize("sizes", [[4, 5000, 5000, 2], [4, 3], [4, 3, 2, 2], [4, 100000, 2]])
def test_config_sizes_are_checked_before_anything_is_built(tmp_path, sizes):
    path = tmp_path / "liar.npz"
    save(MLP([4, 3, 2], rng=0), path)
    _rewrite_meta(path, lambda m: m["config"].update(sizes=sizes))
    outcome, peak = _peak_bytes(lambda: load(path))
    assert isinstance(outcome, CheckpointError), outcome
    message = str(outcome)
    assert "liar.npz" in message and ("shape" in message or "arrays" in message), message
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB allocated before refusing"


@pytest.mark.parametrize("bad", [["a", 3, 2], "432", [4, -3, 2], [4, True, 2], None])
def test_config_of_the_wrong_type_is_refused(tmp_path, bad):
    path = tmp_path / "odd.npz"
    save(MLP([4, 3, 2], rng=0), path)
    _rewrite_meta(path, lambda m: m["config"].update(sizes=bad))
    with pytest.raises(CheckpointError, match="odd.npz"):
        load(path)


def _npz_with_meta_text(path, text, **arrays):
    with open(path, "wb") as f:
        np.savez(f, __meta__=np.array(text), **arrays)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_metadata_is_refused(tmp_path, opener):
    path = tmp_path / "deep.npz"
    closer = "]" if opener == "[" else "}"
    _npz_with_meta_text(path, opener * 100_000 + "1" + closer * 100_000)
    with pytest.raises(CheckpointError, match="nested"):
        load(path)


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    path = tmp_path / "model.npz"
    note = '[[[{{{"' * 50 + "\\" * 3
    save(MLP([3, 2], rng=0), path, note=note)
    assert load_state(path)[1]["user"]["note"] == note


def _junk_npz(path, megabytes):
    """A small file whose compressed entry claims ``megabytes`` MiB of float32 zeros."""
    import io
    import zipfile

    io_header = io.BytesIO()
    count = megabytes << 18  # float32 values in that many MiB
    np.lib.format.write_array_header_1_0(
        io_header, {"descr": "<f4", "fortran_order": False, "shape": (count,)}
    )
    header = io_header.getvalue()
    meta = io.BytesIO()
    np.lib.format.write_array(meta, np.array(json.dumps({"format": "tinygrad_nn", "version": 2})))
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("__meta__.npy", meta.getvalue())
        with zf.open("w.npy", "w", force_zip64=True) as entry:
            entry.write(header)
            for _ in range(megabytes):
                entry.write(chunk)


def test_compressed_junk_is_refused_before_decompressing(tmp_path):
    path = tmp_path / "junk.npz"
    _junk_npz(path, 256)
    assert path.stat().st_size < 1 << 20
    outcome, peak = _peak_bytes(lambda: serialize.read_file(path))
    assert isinstance(outcome, CheckpointError), outcome
    assert "junk.npz" in str(outcome)
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB allocated before refusing"


def test_entry_whose_header_disagrees_with_the_archive_is_refused(tmp_path):
    import io
    import zipfile

    path = tmp_path / "liar.npz"
    meta = io.BytesIO()
    np.lib.format.write_array(meta, np.array(json.dumps({"format": "tinygrad_nn", "version": 2})))
    header = io.BytesIO()
    shape = {"descr": "<f8", "fortran_order": False, "shape": (1000, 1000)}
    np.lib.format.write_array_header_1_0(header, shape)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__meta__.npy", meta.getvalue())
        zf.writestr("w.npy", header.getvalue() + bytes(80))  # 10 values, not a million
    outcome, peak = _peak_bytes(lambda: serialize.read_file(path))
    assert isinstance(outcome, CheckpointError), outcome
    assert "'w'" in str(outcome)
    assert peak < 4 << 20


def test_compressed_files_of_real_models_still_load(tmp_path):
    path = tmp_path / "compressed.npz"
    model = MLP([64, 48, 32, 10], rng=0)
    save(model, tmp_path / "plain.npz")
    state, meta = load_state(tmp_path / "plain.npz")
    np.savez_compressed(path, __meta__=np.array(json.dumps(meta)), **state)
    loaded = load(path)
    assert np.array_equal(loaded.fc1.weight.data, model.fc1.weight.data)


# ------------------------------------------------------------------------ every layer, Sequential
# Found after the CNN layers landed: `load` checked a config's sizes against the file's arrays
# for Linear and MLP only, so a small file naming a huge Conv2d, Embedding, BatchNorm,
# LayerNorm or DigitsCNN made `load` allocate what the config said; and a Sequential (how
# examples/cnn.py builds its net) could not be saved and loaded at all.


def _digits_cnn():
    from tinygrad_nn.digits.cnn import DigitsCNN

    return DigitsCNN((2, 3, 4), hidden=(5,), rng=0)


def _set_layer0_inputs(meta):
    meta["config"]["layers"][0]["config"]["n_in"] = 1_000_000


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda: tg.nn.Conv2d(2, 4, 3, rng=0), {"in_channels": 1000, "out_channels": 1000}),
        (lambda: tg.nn.Conv2d(2, 4, 3, rng=0), {"kernel_size": [1000, 1000]}),
        (lambda: tg.nn.Embedding(5, 3, rng=0), {"num_embeddings": 1_000_000}),
        (lambda: tg.nn.BatchNorm1d(3), {"num_features": 2_000_000}),
        (lambda: tg.nn.LayerNorm(4), {"normalized_shape": [2000, 2000]}),
        (_digits_cnn, {"channels": [1000, 1000, 4]}),
        (lambda: tg.nn.Sequential(Linear(3, 4, rng=0), tg.nn.ReLU()), _set_layer0_inputs),
    ],
    ids=["conv-channels", "conv-kernel", "embedding", "batchnorm", "layernorm", "cnn", "seq"],
)
def test_every_layers_config_is_checked_before_anything_is_built(tmp_path, make, change):
    path = tmp_path / "liar.npz"
    save(make(), path)
    _rewrite_meta(path, change if callable(change) else lambda m: m["config"].update(change))
    outcome, peak = _peak_bytes(lambda: load(path))
    assert isinstance(outcome, CheckpointError), outcome
    assert "liar.npz" in str(outcome)
    assert peak < 4 << 20, f"{peak / 2**20:.1f} MiB allocated before refusing"


def test_a_sequential_of_too_many_layers_is_refused_before_building(tmp_path):
    path = tmp_path / "long.npz"
    save(tg.nn.Sequential(tg.nn.ReLU()), path)
    layer = {"class": "tinygrad_nn.nn.ReLU", "config": {}}
    _rewrite_meta(path, lambda m: m["config"].update(layers=[layer] * 10_001))
    with pytest.raises(CheckpointError, match="10001 layers, more than 10000"):
        load(path)


def test_a_sequential_saves_and_loads_with_every_kind_of_layer(tmp_path):
    nn = tg.nn
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Sequential(nn.Linear(64, 10, rng=1), nn.Tanh()),
        nn.Dropout(0.1),
    )
    x = tg.Tensor(np.random.default_rng(2).normal(size=(3, 1, 8, 8)).astype(np.float32))
    model(x)  # one training-mode pass moves the running statistics
    model.eval()
    path = tmp_path / "seq.npz"
    save(model, path)
    again = load(path).eval()
    assert type(again) is nn.Sequential and len(again) == len(model)
    assert [type(m) for m in again.layers] == [type(m) for m in model.layers]
    assert again.config() == model.config()
    state, loaded = model.state_dict(), again.state_dict()
    assert list(state) == list(loaded)
    for key in state:
        np.testing.assert_array_equal(state[key], loaded[key])
    np.testing.assert_array_equal(again(x).data, model(x).data)
    assert [name for name, _ in again.named_parameters()][:2] == ["0.weight", "0.bias"]


def test_a_sequential_holding_a_custom_module_points_to_load_state(tmp_path):
    model = tg.nn.Sequential(Custom(), tg.nn.ReLU())
    path = tmp_path / "mixed.npz"
    save(model, path)
    with pytest.raises(CheckpointError, match="custom module 'Sequential'.*load_state"):
        load(path)
    again = tg.nn.Sequential(Custom(seed=9), tg.nn.ReLU())
    again.load_state_dict(load_state(path)[0])
    x = _x(3)
    np.testing.assert_array_equal(again(x).data, model(x).data)


@pytest.mark.parametrize(
    "name", ["os.system", "tinygrad_nn.nn.Nope", "tinygrad_nn.Tensor", "tinygrad_nn.nn", 7]
)
def test_a_sequential_naming_a_foreign_or_unknown_class_is_refused(tmp_path, name):
    path = tmp_path / "odd.npz"
    save(tg.nn.Sequential(tg.nn.ReLU()), path)
    _rewrite_meta(path, lambda m: m["config"]["layers"][0].update({"class": name}))
    with pytest.raises(CheckpointError, match="odd.npz"):
        load(path)
