"""Benchmark of davfiles against plain WsgiDAV and Apache mod_dav: ``python -m bench.run``."""
