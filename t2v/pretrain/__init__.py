"""Pre-training of diffusion priors: LightningModules, EMA, export to a prior folder."""
