"""Network architectures of t2v's own diffusion priors (diffusers ModelMixin + ConfigMixin)."""
