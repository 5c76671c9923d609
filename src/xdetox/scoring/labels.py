"""Which output of a classifier means toxic: a label name or index checked against the model's id2label.

No torch here: the plan-time preflight checks a local classifier's label from its config.json before any job.
"""

from __future__ import annotations

from .base import ScoringError


class ClassifierLabelError(ScoringError):
    pass


def resolve_label(id2label: dict, toxic_label: str | int, model: str) -> int:
    """Index of the toxic label, given its name or index; an unknown one is an error listing the model's labels."""
    labels = {int(i): str(name) for i, name in id2label.items()}
    if isinstance(toxic_label, bool):
        raise ClassifierLabelError(f"config key scoring.hf_classifier.toxic_label: expected a label name or index, "
                                   f"got {toxic_label!r}")
    if isinstance(toxic_label, int):
        if toxic_label in labels:
            return toxic_label
    else:
        by_name = {name.lower(): i for i, name in labels.items()}
        if str(toxic_label).lower() in by_name:
            return by_name[str(toxic_label).lower()]
        if str(toxic_label).isdigit() and int(toxic_label) in labels:
            return int(toxic_label)
    choices = ", ".join(f"{i}={name!r}" for i, name in sorted(labels.items()))
    raise ClassifierLabelError(
        f"config key scoring.hf_classifier.toxic_label: {toxic_label!r} is not a label of model {model} "
        f"(its labels: {choices})"
    )
