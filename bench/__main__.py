"""``python -m bench``: run the benchmark suite (bench/run.py)."""
from bench.run import main

main()
