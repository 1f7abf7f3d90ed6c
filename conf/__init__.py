"""Hydra config tree of t2v, importable as `t2v.conf` so Hydra can find it in an installed package."""
