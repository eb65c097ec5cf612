"""The demo: a small animation whose look lives in plain functions.

Run it with `make run` (or `jurigged -v assets/demo/orbit.py`), then edit this file while
it runs and save: change the planet "●" in frame(), WIDTH, or the orbit in position().
The animation picks up each save at once. Ctrl-C stops it.
"""

import math
import time

WIDTH = 48


def position(t):
    """Where the planet is at time t, from 0 to WIDTH - 1."""
    return round((math.sin(t) + 1) / 2 * (WIDTH - 1))


def frame(t):
    """One line of the animation."""
    cells = ["·"] * WIDTH
    cells[WIDTH // 2] = "☀"
    cells[position(t)] = "●"
    return "".join(cells)


def main():
    t = 0.0
    while True:
        print(f"\r{frame(t)}  t={t:5.1f}", end="", flush=True)
        time.sleep(0.05)
        t += 0.1


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\nbye")
