"""Shared fixtures: every test starts from the engine's default global state."""

import numpy as np
import pytest

import tinygrad_nn as tg


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Restore the default dtype even when a test changes it and then fails."""
    saved = tg.get_default_dtype()
    yield
    tg.set_default_dtype(saved)
    assert tg.is_grad_enabled(), "a test left grad recording switched off"


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
