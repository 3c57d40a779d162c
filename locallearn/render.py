"""Frames without a display: numpy drawing for the environments' ``rgb_array`` render mode, and
a PNG strip of an episode (a row of frames) in place of a video.

Frames are (height, width, 3) uint8 arrays, row 0 at the top, as gymnasium expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io


def canvas(height: int, width: int, color=(0, 0, 0)) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[...] = color
    return frame


def fill_rect(frame: np.ndarray, x: float, y: float, width: float, height: float, color) -> None:
    """Paint the rectangle [x, x + width) x [y, y + height) (pixels), clipped to the frame."""
    h, w = frame.shape[:2]
    x0, y0 = max(int(x), 0), max(int(y), 0)
    x1, y1 = min(int(x + width), w), min(int(y + height), h)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = color


def strip(frames: list[np.ndarray], columns: int = 8, gap: int = 4) -> np.ndarray:
    """Frames laid out left to right, top to bottom, ``columns`` per row, on a white background."""
    if not frames:
        raise ValueError("no frames to lay out")
    h, w = frames[0].shape[:2]
    rows = -(-len(frames) // columns)
    cols = min(columns, len(frames))
    sheet = canvas(rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, (255, 255, 255))
    for index, frame in enumerate(frames):
        r, c = divmod(index, columns)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = frame
    return sheet


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 image as PNG (atomically, through matplotlib)."""
    import matplotlib.image

    path = Path(path)
    io._atomic(path, lambda handle: matplotlib.image.imsave(handle, image, format="png"))
    return path
