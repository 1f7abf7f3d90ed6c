"""Text conditioning: prompt + genre composition, encoders, on-disk embedding cache."""

from t2v.text.conditioning import UNCONDITIONAL_GENRE_ID, ConditioningBatch, TextConditioning
from t2v.text.encoders import TextEncoder, TextEncoderSpec
from t2v.text.prompt import PromptEncoder, compose_text
from t2v.text.views import VIEW_BUCKETS, VIEW_SUFFIXES, view_bucket, view_buckets_from_c2w

__all__ = [
    "UNCONDITIONAL_GENRE_ID",
    "VIEW_BUCKETS",
    "VIEW_SUFFIXES",
    "ConditioningBatch",
    "PromptEncoder",
    "TextConditioning",
    "TextEncoder",
    "TextEncoderSpec",
    "compose_text",
    "view_bucket",
    "view_buckets_from_c2w",
]
