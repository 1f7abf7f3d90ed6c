"""Video-text data: the procedural dataset and loaders for real (WebVid-layout) data."""

from t2v.data.looks import GENRES
from t2v.data.procedural import ProceduralVideoText
from t2v.data.vocabulary import COLOURS, MOTIONS, SHAPES, SPLITS, make_caption
from t2v.data.webvid import WebVidDataset

__all__ = [
    "COLOURS",
    "GENRES",
    "MOTIONS",
    "SHAPES",
    "SPLITS",
    "ProceduralVideoText",
    "WebVidDataset",
    "make_caption",
]
