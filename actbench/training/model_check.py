"""The user's own networks (builders and saved models) checked before anything is written or
trained: each built once per dataset and activation (what `validate` prints), and what
metadata.json records of each saved model (its file, hash and the layers replaced)."""

from __future__ import annotations

from actbench.errors import ConfigError


def check_user_models(exp) -> list[dict]:
    """Build each user model (builder or keras_model) once per dataset and activation: one row
    each, or ConfigError naming the model, the dataset and the activation of the first that fails."""
    archs = [a for a in exp.architectures if a.builder is not None or a.keras_model is not None]
    if not archs:
        return []
    from actbench import datasets
    from actbench.training import backends

    backends.for_name(exp.backend).configure(exp.training.deterministic)  # before Keras is imported
    import keras

    from actbench.training.model import build_model

    rows = []
    for name in exp.datasets:
        spec = datasets.spec_of(name)
        for arch in archs:
            for act in exp.activation_specs:
                keras.utils.set_random_seed(exp.seeds[0])
                try:
                    model = build_model(arch, spec.input_shape, spec.num_classes, act.name, act.build_params)
                except ConfigError as e:
                    raise ConfigError(f"on {name} ({spec.input_shape}), activation '{act.label}': {e}") from None
                rows.append(
                    {
                        "dataset": name,
                        "model": arch.label,
                        "from": arch.builder or arch.keras_model,
                        "activation": act.label,
                        "params": f"{model.count_params():,}",
                        "activations": len(model.actbench_tower.activated),
                    }
                )
    return rows


def saved_models(exp) -> dict[str, dict]:
    """model label -> saved_model.describe() for each keras_model of the grid (none: {})."""
    from actbench.training import saved_model

    return {a.label: saved_model.describe(a) for a in exp.architectures if a.keras_model is not None}


def replacement_notes(exp) -> list[str]:
    """One line per saved model: which layers' activations the run's replaces (for `validate`)."""
    notes = []
    for label, info in saved_models(exp).items():
        replaced = ", ".join(f"{layer} ({what})" for layer, what in info["replaced"].items())
        note = (
            f"model '{label}' ({info['keras_model']}): the run's activation replaces {replaced}; "
            f"kept: the output's (layer {info['kept_output']})"
        )
        if info["reseeded"]:
            note += f"; fixed seeds cleared in {', '.join(info['reseeded'])}"
        notes.append(note)
    return notes


def refuse_changed_saved_files(exp, meta: dict, out_dir) -> None:
    """The config hash names a saved model's file, not its content: resuming into `out_dir`
    (whose metadata.json is `meta`) after the file changed would mix two networks' numbers,
    so it is refused."""
    before = meta.get("saved_models") or {}
    if not before:
        return
    from actbench.training import saved_model

    for arch in exp.architectures:
        was = (before.get(arch.label) or {}).get("sha256")
        if arch.keras_model is not None and was is not None and was != saved_model.file_sha256(arch):
            raise ConfigError(
                f"model '{arch.label}': keras_model '{arch.keras_model}' changed since the runs in '{out_dir}' "
                f"were made (its sha256 was {was[:12]}...). Results are never mixed: use --overwrite to start "
                "over, or choose another dir (output.dir or --output)."
            )
