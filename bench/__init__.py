"""Benchmark of davfiles against plain WsgiDAV; run it with ``python -m bench.run``."""
