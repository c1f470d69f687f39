"""Benchmarks on the sandbox: real bot processes, a private Redis, the loopback doubles.

`python -m bench [scenario ...] [--quick] [--json]` (see `bench/__main__.py`). One module per
scenario (`jobs`, `idle`), each an `async run(workdir, options, progress) -> dict`;
`_world.py` starts and stops what they run on, `_measure.py` reads /proc. A new scenario is
a new module registered in `SCENARIOS` in `__main__.py`.
"""
