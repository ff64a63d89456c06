"""Unit: the zero-phase filter against `scipy.signal` as an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from rehab.kinematics import smooth_signal
from rehab.kinematics.filters import butter_lowpass_coeffs


@pytest.mark.parametrize("cutoff, fs", [(3.0, 30.0), (3.0, 60.0), (6.0, 25.0), (1.0, 120.0)])
def test_coefficients_match_scipy_butter(cutoff: float, fs: float) -> None:
    b0, b1, b2, a1, a2 = butter_lowpass_coeffs(cutoff, fs)
    b, a = scipy.signal.butter(2, cutoff, fs=fs)
    np.testing.assert_allclose([b0, b1, b2], b, rtol=1e-12)
    np.testing.assert_allclose([1.0, a1, a2], a, rtol=1e-12)


@pytest.mark.parametrize("fs", [30.0, 60.0])
def test_smoothing_matches_scipy_filtfilt_away_from_the_edges(fs: float) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(int(20 * fs)) / fs
    x = 40 + 30 * np.sin(2 * np.pi * 0.4 * t) + rng.normal(0, 2.0, t.size)
    ours = smooth_signal(x, t, cutoff_hz=3.0)
    b, a = scipy.signal.butter(2, 3.0, fs=fs)
    ref = scipy.signal.filtfilt(b, a, x, padtype="odd", padlen=int(round(fs / 3.0)))
    edge = int(2 * fs)  # padding choices differ only near the ends
    np.testing.assert_allclose(ours[edge:-edge], ref[edge:-edge], atol=1e-6)
    # zero phase: a pure slow sine comes back without delay
    slow = 30 * np.sin(2 * np.pi * 0.3 * t)
    lag = np.argmax(np.correlate(smooth_signal(slow, t), slow, "full")) - (t.size - 1)
    assert lag == 0
