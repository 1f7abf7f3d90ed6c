"""The pre-trained scene generator: text + genre -> a plain SceneField (`SceneGenerator`).

Usage::

    from t2v.generator import GeneratorText, load_generator

    generator = load_generator("pkg://t2v/assets/generators/bundled")
    text = GeneratorText().encode(["a red ball moves to the left"])[0]
    field = generator.field_for(text, "cartoon")   # a SceneField, as field=hexplane builds

Trained by `t2v pretrain pretrain=scene_generator` (`t2v.pretrain.scene_generator`); used by
`t2v generate schedule=instant` and `init=amortised`.
"""

from t2v.generator.film import fold_film, with_tensors
from t2v.generator.model import SceneGenerator
from t2v.generator.shipped import (
    SHIPPED,
    GeneratorText,
    build_generator,
    load_generator,
    read_manifest,
    resolve_folder,
    save_generator,
)

__all__ = [
    "SHIPPED",
    "GeneratorText",
    "SceneGenerator",
    "build_generator",
    "fold_film",
    "load_generator",
    "read_manifest",
    "resolve_folder",
    "save_generator",
    "with_tensors",
]
