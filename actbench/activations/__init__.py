"""Activations: the registry (name -> build, formula, closed forms) and user 'module:function' code.

registry  the built-in entries, lookup and validation of a config entry
learnable the layer that learns an entry's parameters (trainable: true)
custom    finding and importing a user module (no Keras); its behaviour is checked in
          training/activation_check.py, where a backend is at hand
"""

from .registry import (
    ALIASES,
    AUTO_FALLBACK,
    AUTO_INITIALIZERS,
    BUILTIN,
    CUSTOM_PATTERN,
    REGISTRY,
    Activation,
    check_entry,
    check_learning,
    closed_form,
    default_label,
    describe,
    get,
    import_custom,
    is_custom,
    keras_activation,
    learned,
    names,
    sampled,
    validate,
)

__all__ = [
    "ALIASES",
    "AUTO_FALLBACK",
    "AUTO_INITIALIZERS",
    "Activation",
    "BUILTIN",
    "CUSTOM_PATTERN",
    "REGISTRY",
    "check_entry",
    "check_learning",
    "closed_form",
    "default_label",
    "describe",
    "get",
    "import_custom",
    "is_custom",
    "keras_activation",
    "learned",
    "names",
    "sampled",
    "validate",
]
