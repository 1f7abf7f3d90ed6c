"""Evaluation of videos and runs: attribute evaluator, CLIP metrics, temporal consistency."""
