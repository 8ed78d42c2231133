"""The experiment config: YAML reading, the pydantic parts, Experiment and its hash.

    yamlfile    reading the text (UTF-8, duplicate keys) and the file/line/field messages
    specs       the config's parts (model, optimizer, training, variants, diagnostics, output)
    experiment  Experiment (strict, frozen, complete), load(path), the resolved config

Nothing here imports Keras or training.
"""

from .experiment import (
    CLIP_FIELDS,
    DATASET_NAMES,
    LABEL_PATTERN,
    MAX_SEED,
    ActivationSpec,
    DiagnosticsSpec,
    Experiment,
    ModelSpec,
    OptimizerSpec,
    OutputSpec,
    TrainingPatch,
    TrainingSpec,
    VariantSpec,
    from_mapping,
    load,
    resolved_config,
    search_dirs_for,
)

__all__ = [
    "ActivationSpec",
    "CLIP_FIELDS",
    "DATASET_NAMES",
    "DiagnosticsSpec",
    "Experiment",
    "LABEL_PATTERN",
    "MAX_SEED",
    "ModelSpec",
    "OptimizerSpec",
    "OutputSpec",
    "TrainingPatch",
    "from_mapping",
    "TrainingSpec",
    "VariantSpec",
    "load",
    "resolved_config",
    "search_dirs_for",
]
