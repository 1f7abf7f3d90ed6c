"""The main job of `t2v generate`: make the scene, then export its video and metrics.

`job` runs it: the scene generator's field where the run asks for one, the stages in order
(resuming what is done), the video. `training` holds what only a run that trains needs (the
priors, Lightning's Trainer), so a run that trains nothing (`schedule=instant`) never imports
Lightning: most of such a run's start-up otherwise.
"""

from t2v.generation.job import run_generate

__all__ = ["run_generate"]
