"""Side-by-side speed and memory of one training step: hand numpy, tinygrad_nn, and others.

Run with ``python -m benchmarks`` (``make bench``); ``--help`` lists the options and
``benchmarks/README.md`` explains how to read the results. Never run as timed tests.
"""
