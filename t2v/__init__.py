"""t2v: text + genre to video through a 4D scene optimised with score distillation (MAV3D)."""

__version__ = "0.1.0"
