"""Reconstruction error and spike rate of every encoder on a test signal.

The signal (scaled to [0, 1]): 0.5 + 0.35 sin(2 pi t / 400 ms) + 0.1 sin(2 pi t / 97 ms), 4 s at
1 ms steps. Prints each encoder's channels per dimension, RMSE of its decoder and spikes per
second per channel (analog outputs: n/a).

    python benchmarks/encoders.py
"""

from __future__ import annotations

import numpy as np

from locallearn import encoders


def main() -> None:
    t = np.arange(4000)
    signal = 0.5 + 0.35 * np.sin(2 * np.pi * t / 400) + 0.1 * np.sin(2 * np.pi * t / 97)
    print(f"{'encoder':<18} {'channels':>8} {'RMSE':>8} {'spikes/s/channel':>17}")
    for row in encoders.report(signal):
        rate = row["spikes_per_s_per_channel"]
        rmse = row["rmse"]
        print(
            f"{row['encoder']:<18} {row['channels']:>8} "
            f"{'n/a' if rmse is None else f'{rmse:.4f}':>8} "
            f"{'n/a (analog)' if rate is None else f'{rate:.1f}':>17}"
        )


if __name__ == "__main__":
    main()
