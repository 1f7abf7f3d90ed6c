"""Hydra config tree of t2v, importable as `t2v.conf` so Hydra finds it when installed."""
