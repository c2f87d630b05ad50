"""Side-by-side speed runs of chainrule against PyTorch (CPU, float32, same threads and shapes).

``python -m benchmarks`` runs every workload (``--quick`` for a short run, ``--help``
for the options) and prints a table of ms/step for both libraries, their ratio, and,
for the GEMM-bound workloads, the fraction of this machine's measured float32 GEMM
peak each one reaches. The results are also written as JSON (``benchmarks/results/``)
so that runs can be compared across commits (``python -m benchmarks --compare A.json B.json``).

This package is not part of the test suite; see ``benchmarks/README.md``.
"""
