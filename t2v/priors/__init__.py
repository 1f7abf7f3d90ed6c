"""Frozen diffusion priors behind small interfaces (ImagePrior, VideoPrior, SRPrior) and SDS."""
