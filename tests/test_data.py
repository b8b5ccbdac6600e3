"""Tests for tinygrad_nn.data: the tutorial's digits splits and seeded minibatches."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tinygrad_nn.data import DigitsSplits, load_digits_splits, minibatches


@pytest.fixture(scope="module")
def splits():
    return load_digits_splits()


# ----------------------------------------------------------------------------- splits


def test_split_sizes_match_the_tutorial(splits):
    assert isinstance(splits, DigitsSplits)
    assert splits.X_train.shape == (721, 64)
    assert splits.X_valid.shape == (482, 64)
    assert splits.X_test.shape == (594, 64)
    assert splits.y_train.shape == (721,)
    assert splits.y_valid.shape == (482,)
    assert splits.y_test.shape == (594,)


def test_named_tuple_field_order(splits):
    X_train, y_train, X_valid, y_valid, X_test, y_test = splits
    assert X_train is splits.X_train and y_test is splits.y_test
    assert len(X_valid) == len(y_valid) and len(X_test) == len(y_test)
    assert len(y_train) == len(X_train)


def test_splits_are_deterministic(splits):
    again = load_digits_splits()
    for a, b in zip(splits, again):
        assert np.array_equal(a, b)


def test_raw_pixels_are_unscaled(splits):
    X = np.concatenate([splits.X_train, splits.X_valid, splits.X_test])
    assert X.min() == 0
    assert X.max() == 16
    assert np.array_equal(X, np.round(X))  # integer pixel values 0..16


def test_scale_divides_by_16(splits):
    scaled = load_digits_splits(scale=True)
    for raw, sc in zip(splits[0::2], scaled[0::2]):
        np.testing.assert_allclose(sc, raw / 16, rtol=0, atol=1e-7)
        assert sc.min() >= 0.0
    assert max(x.max() for x in scaled[0::2]) == 1.0
    for raw_y, sc_y in zip(splits[1::2], scaled[1::2]):
        assert np.array_equal(raw_y, sc_y)


def test_labels_are_integers_0_to_9(splits):
    for y in splits[1::2]:
        assert np.issubdtype(y.dtype, np.integer)
        assert y.min() >= 0 and y.max() <= 9
    all_y = np.concatenate(splits[1::2])
    assert set(np.unique(all_y).tolist()) == set(range(10))


def test_features_are_float(splits):
    for X in splits[0::2]:
        assert np.issubdtype(X.dtype, np.floating)


def test_splits_are_disjoint_and_cover_all_digits(splits):
    digits = load_digits()
    assert digits.data.shape == (1797, 64)

    # pair each image with its label; the three splits together are exactly the full set
    def keyed(X, y):
        return sorted(
            (tuple(row.astype(np.int64).tolist()), int(label)) for row, label in zip(X, y)
        )

    parts = [keyed(splits[i], splits[i + 1]) for i in (0, 2, 4)]
    combined = sorted(parts[0] + parts[1] + parts[2])
    expected = keyed(digits.data, digits.target)
    assert combined == expected
    assert sum(len(p) for p in parts) == 1797


def test_splits_are_disjoint_as_index_sets(splits):
    # match each split row back to a distinct index of the full data (duplicate images take
    # successive indices): every index is used exactly once
    digits = load_digits()
    full = digits.data.astype(np.float32)
    lookup: dict[bytes, list[int]] = {}
    for i, row in enumerate(full):
        lookup.setdefault(row.tobytes(), []).append(i)
    used: list[int] = []
    for X in splits[0::2]:
        for row in X:
            candidates = lookup[np.asarray(row, dtype=np.float32).tobytes()]
            used.append(candidates.pop(0))
    assert sorted(used) == list(range(1797))


# ----------------------------------------------------------------------------- minibatches


@pytest.mark.parametrize("n,batch_size", [(10, 3), (10, 5), (7, 1), (100, 32)])
def test_minibatches_cover_each_index_once(n, batch_size):
    rng = np.random.default_rng(0)
    batches = list(minibatches(n, batch_size, rng))
    assert len(batches) == -(-n // batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    everything = np.concatenate(batches)
    assert sorted(everything.tolist()) == list(range(n))


def test_minibatches_every_epoch_is_a_permutation():
    rng = np.random.default_rng(3)
    orders = []
    for _ in range(4):
        order = np.concatenate(list(minibatches(50, 8, rng)))
        assert sorted(order.tolist()) == list(range(50))
        orders.append(order.tolist())
    # shuffled: the epochs do not all come in the same order, and not in index order
    assert len({tuple(o) for o in orders}) > 1
    assert any(o != list(range(50)) for o in orders)


def test_minibatch_order_is_reproducible_from_the_seed():
    a = [b.tolist() for b in minibatches(40, 7, np.random.default_rng(11))]
    b = [b.tolist() for b in minibatches(40, 7, np.random.default_rng(11))]
    c = [b.tolist() for b in minibatches(40, 7, np.random.default_rng(12))]
    assert a == b
    assert a != c


def test_minibatches_without_rng_are_in_order():
    batches = list(minibatches(10, 4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("batch_size", [None, 10, 25])
def test_full_batch_when_batch_size_none_or_large(batch_size):
    rng = np.random.default_rng(0)
    batches = list(minibatches(10, batch_size, rng))
    assert len(batches) == 1
    assert batches[0].tolist() == list(range(10))


@pytest.mark.parametrize("n,batch_size", [(0, 4), (-3, 4), (10, 0), (10, -2)])
def test_minibatches_bad_arguments_raise(n, batch_size):
    with pytest.raises(ValueError):
        list(minibatches(n, batch_size, np.random.default_rng(0)))
