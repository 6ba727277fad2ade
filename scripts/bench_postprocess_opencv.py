#!/usr/bin/env python3
"""OpenCV's time for the original's 9-step post-processing, one thread.

The peer of `cargo bench --bench postprocess` (benches/postprocess.rs): same
inputs, same statistics (median, min, p90 of 300 runs after 20 warm-up runs),
reading the file not timed. The steps are those of the original project's
src/post_processing.py, from the 3-channel image cv2.imread returns.

    .venv-peers/bin/python scripts/bench_postprocess_opencv.py
"""

import os
import time

import cv2
import numpy as np

WARMUP = 20
RUNS = 300
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
KERNEL_1 = np.ones((1, 1), np.uint8)
KERNEL_3 = np.ones((3, 3), np.uint8)


def postprocess(img):
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    _, binary = cv2.threshold(gray, 127, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    closing = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, KERNEL_1, iterations=1)
    sure_bg = cv2.dilate(closing, KERNEL_3, iterations=1)
    dist = cv2.distanceTransform(closing, cv2.DIST_L2, 5)
    _, sure_fg = cv2.threshold(dist, 0.2 * dist.max(), 255, 0)
    sure_fg = np.uint8(sure_fg)
    unknown = cv2.subtract(sure_bg, sure_fg)
    _, markers = cv2.connectedComponents(sure_fg)
    markers = markers + 1
    markers[unknown == 255] = 0
    markers = cv2.watershed(img, markers)
    return np.where(markers == 1, 255, 0).astype(np.uint8)


def main():
    cv2.setNumThreads(1)
    print(f"OpenCV {cv2.__version__} (NumPy {np.__version__}), {RUNS} runs after {WARMUP} warm-up runs, one thread")
    for name, rel in [("mask 24", "data/isbi2012/train/masks/24.png"), ("raw image 24", "data/isbi2012/train/images/24.png")]:
        img = cv2.imread(os.path.join(ROOT, rel), cv2.IMREAD_COLOR)
        for _ in range(WARMUP):
            postprocess(img)
        ms = []
        for _ in range(RUNS):
            start = time.perf_counter()
            postprocess(img)
            ms.append((time.perf_counter() - start) * 1e3)
        ms.sort()
        print(f"{name} ({rel}): median {ms[RUNS // 2]:.2f} ms, min {ms[0]:.2f} ms, p90 {ms[RUNS * 9 // 10]:.2f} ms")


if __name__ == "__main__":
    main()
