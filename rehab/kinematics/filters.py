"""Signal conditioning for angle time series: gap filling and zero-phase low-pass."""

from __future__ import annotations

import math

import numpy as np

from rehab.kinematics import _kernels as K
from rehab.settings import DEFAULT_SETTINGS

DEFAULT_CUTOFF_HZ = DEFAULT_SETTINGS.cutoff_hz
"""Low-pass cut-off for recorded movement: rehabilitation exercises are below ~2 Hz."""

DEFAULT_MAX_GAP_S = DEFAULT_SETTINGS.max_gap_s
"""Longest run of missing samples filled by linear interpolation."""


def butter_lowpass_coeffs(cutoff_hz: float, fs_hz: float) -> tuple[float, float, float, float, float]:
    """Second-order Butterworth low-pass (bilinear transform): b0, b1, b2, a1, a2."""
    if not 0 < cutoff_hz < fs_hz / 2:
        raise ValueError(f"cut-off {cutoff_hz} Hz must be between 0 and Nyquist {fs_hz / 2} Hz")
    k = math.tan(math.pi * cutoff_hz / fs_hz)
    norm = 1.0 / (1.0 + math.sqrt(2.0) * k + k * k)
    b0 = k * k * norm
    return b0, 2.0 * b0, b0, 2.0 * (k * k - 1.0) * norm, (1.0 - math.sqrt(2.0) * k + k * k) * norm


def effective_rate(t: np.ndarray) -> float:
    """Sampling rate from real timestamps (median interval; robust to variable frame rate)."""
    if t.shape[0] < 2:
        return 0.0
    dt = float(np.median(np.diff(t)))
    return 1.0 / dt if dt > 0 else 0.0


def smooth_signal(x: np.ndarray, t: np.ndarray, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
                  max_gap_s: float = DEFAULT_MAX_GAP_S) -> np.ndarray:
    """Fill short gaps, then zero-phase low-pass filter (4th order effective) each valid run.

    Long gaps stay NaN. If the sampling rate is too low for ``cutoff_hz`` the signal is only
    gap-filled.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    t = np.ascontiguousarray(t, dtype=np.float64)
    filled = K.interpolate_gaps(x, t, max_gap_s)
    fs = effective_rate(t)
    if fs <= 2.5 * cutoff_hz:
        return filled
    b0, b1, b2, a1, a2 = butter_lowpass_coeffs(cutoff_hz, fs)
    pad = int(round(fs / cutoff_hz))
    return K.filtfilt_lowpass(filled, b0, b1, b2, a1, a2, pad)


class OneEuroFilter:
    """Causal adaptive low-pass for live signals (Casiez, Roussel & Vogel, CHI 2012).

    The cut-off rises with the signal's speed: slow movement is smoothed strongly (no
    jitter), fast movement follows with little lag. ``min_cutoff`` in Hz, ``beta`` in
    1/(unit/s), ``d_cutoff`` for the derivative in Hz. NaN input resets the filter after a gap
    longer than ``max_gap_s`` and returns NaN.
    """

    def __init__(self, min_cutoff: float = DEFAULT_SETTINGS.live_min_cutoff_hz,
                 beta: float = DEFAULT_SETTINGS.live_beta,
                 d_cutoff: float = DEFAULT_SETTINGS.live_d_cutoff_hz,
                 max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.max_gap_s = max_gap_s
        self._t: float | None = None
        self._x = math.nan
        self._dx = 0.0

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        """Forget the past (after a long gap)."""
        self._t = None
        self._x = math.nan
        self._dx = 0.0

    def __call__(self, t: float, x: float) -> float:
        if not math.isfinite(x):
            if self._t is not None and t - self._t > self.max_gap_s:
                self.reset()
            return math.nan
        if self._t is None or not math.isfinite(self._x):
            self._t, self._x, self._dx = t, x, 0.0
            return x
        dt = t - self._t
        if dt <= 0:
            return self._x
        if dt > self.max_gap_s:
            self._t, self._x, self._dx = t, x, 0.0
            return x
        dx = (x - self._x) / dt
        self._dx += self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x
