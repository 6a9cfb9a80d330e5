"""``make bench``: run every benchmark and record the figures in docs/benchmarks.md."""

from tools.bench.report import main

main()
