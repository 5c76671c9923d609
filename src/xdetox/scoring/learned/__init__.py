"""A learned offline multilingual scorer: a linear head on pooled hidden states of a frozen local checkpoint,
cross-fitted by prompt Index on RTP-LX human ratings (see model.py) and/or trained on English Jigsaw."""

from .encoder import Encoder, FeatureSpec
from .heads import HeadSpec
from .model import Example, LearnedHeads, fold_of
from .scorer import SCORER_ID, LearnedScorer

__all__ = ["Encoder", "Example", "FeatureSpec", "HeadSpec", "LearnedHeads", "LearnedScorer", "SCORER_ID", "fold_of"]
