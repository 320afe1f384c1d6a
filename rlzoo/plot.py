"""``python -m rlzoo.plot``: the command line of :mod:`rlzoo.plots` (learning-curve PNGs of runs and sweeps)."""

from rlzoo.plots import main

if __name__ == "__main__":
    raise SystemExit(main())
