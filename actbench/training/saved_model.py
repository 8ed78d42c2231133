"""A saved model: `model: {keras_model: FILE}`, a .keras file or the model's JSON config
(model.to_json()), found beside the config (then in the working directory).

Only the architecture is read (a .keras file's config.json; never its weights, optimizer or
compile settings). The graph is re-created layer by layer, as Keras' own from_config does
(every layer made first, in the file's order, then called node by node), so the run's seed
gives fresh initial weights; a seed fixed in the file (an initializer's, a Dropout's) is
cleared so that it does not give every seed the same weights. Where the file has a hidden
activation, the run's goes instead, through the same act() a builder gets (user_model.py):

- `activation=` of a Conv/Dense layer: the layer is made linear and act() follows it, so
  diagnostics read the pre- and post-activation values (act_<layer>) as in actbench's models;
- an Activation, ReLU, LeakyReLU, ELU, PReLU or Softmax layer: act() takes its place, named
  after the layer it follows (after its own name when the user named it; act_x stays act_x).

The activation that makes the output is kept (the model must output probabilities). A layer
applying an activation inside itself that cannot be replaced (an RNN's), a nested model, a
subclassed model, or a file with nothing to replace is refused, naming the layer. The file's
layer names are kept: they are fixed in the file, so result columns use the user's names.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from actbench.activations import custom
from actbench.errors import ConfigError, last_line
from actbench.training.user_model import Source, keras_stem

KERNEL_CLASSES = {
    *(f"{kind}{d}D" for kind in ("Conv", "SeparableConv", "DepthwiseConv") for d in (1, 2, 3)),
    *(f"Conv{d}DTranspose" for d in (1, 2, 3)),
    "Dense",
    "EinsumDense",
}
ACTIVATION_CLASSES = ("Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")
MODEL_CLASSES = {"Functional", "Sequential", "Model"}
HINT = (
    "actbench re-creates a saved model's layers with fresh weights, replaces the activation of each hidden "
    "Conv/Dense layer and activation layer with the run's, and keeps the output's softmax"
)


@dataclass
class Plan:
    """What a saved model's file says, and what actbench replaces in it."""

    path: Path
    name: str
    input_name: str
    input_shape: tuple | None  # the file's, without the batch (None: any size)
    layers: list[dict]  # the layer entries but the input, each with its inbound nodes (Keras 3 format)
    output: tuple  # (layer, node, tensor) of the model's output
    replaced: dict[str, str] = field(default_factory=dict)  # layer -> what the file has there
    bases: dict[tuple, str] = field(default_factory=dict)  # (layer, node) -> the act_<base> actbench places
    reseeded: list[str] = field(default_factory=list)  # layers whose fixed seed was cleared


class _Problem(Exception):
    """Something the file holds that actbench cannot re-create or replace (raised as ConfigError)."""


def source(arch) -> Source:
    """The saved model of `arch` as user_model.py's Source: make() re-creates it with act() placed."""
    plan = plan_of(arch)
    return Source(
        what=f"saved model '{arch.keras_model}' ({plan.path})",
        make=lambda act, input_shape, num_classes: _made(arch, plan, act, input_shape),
        hint=HINT,
        made="is a model",
        rename=False,
    )


def plan_of(arch) -> Plan:
    """The file of arch.keras_model read and planned; ConfigError naming it for anything refused."""
    path = custom.located_file(arch.keras_model)
    try:
        plan = _plan(path, read_config(path))
    except _Problem as e:
        raise ConfigError(f"model '{arch.label}': saved model '{arch.keras_model}' ({path}) {e}. {HINT}.") from None
    return plan


def describe(arch) -> dict:
    """For metadata.json: the file, its hash, which layers' activations are replaced, what was reseeded."""
    plan = plan_of(arch)
    return {
        "keras_model": arch.keras_model,
        "file": str(plan.path),
        "sha256": file_sha256(arch),
        "replaced": plan.replaced,
        "as": sorted({f"act_{base}" for base in plan.bases.values()}),
        "kept_output": plan.output[0],
        "reseeded": plan.reseeded,
    }


def file_sha256(arch) -> str:
    """The sha256 of arch.keras_model's file (imports no Keras: run checks it before the backend is chosen)."""
    return hashlib.sha256(custom.located_file(arch.keras_model).read_bytes()).hexdigest()


def read_config(path: Path) -> dict:
    """The model's config: config.json of a .keras archive, or the JSON file itself."""
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json").decode("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        config = json.loads(text)
    except (zipfile.BadZipFile, KeyError):
        raise _Problem("is not a .keras archive (a zip file holding config.json; save with model.save)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _Problem(
            f"cannot be read as a model's JSON config ({last_line(e)}); write it with model.to_json()"
        ) from None
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise _Problem("holds no Keras model config (class_name and config); write it with model.to_json()")
    return config


def _plan(path: Path, config: dict) -> Plan:
    plan = _graph(path, config)
    names = {e["name"] for e in plan.layers} | {plan.input_name}
    taken: list[str] = []
    for entry in plan.layers:
        _check_entry(entry)
        what = _replacement(entry, entry["name"] == plan.output[0])
        if what is None:
            continue
        plan.replaced[entry["name"]] = what
        for k, node in enumerate(entry["inbound_nodes"]):
            base = _base(entry, node)
            while base in taken or (f"act_{base}" in names and f"act_{base}" != entry["name"]):
                base = f"{base}_{len(taken)}"
            taken.append(base)
            plan.bases[(entry["name"], k)] = base
        if entry["class_name"] in KERNEL_CLASSES:
            entry["config"]["activation"] = "linear"  # act() follows the layer instead
    for entry in plan.layers:
        if _cleared_seeds(entry["config"]):
            plan.reseeded.append(entry["name"])
    if not plan.replaced:
        raise _Problem(
            "has no hidden activation to replace: no activation= on a hidden Conv/Dense layer and no "
            f"{', '.join(ACTIVATION_CLASSES)} layer before the output"
        )
    return plan


def _graph(path: Path, config: dict) -> Plan:
    """The file's layers as one graph: a Sequential model's chain, or a functional model's nodes."""
    kind, inner = config["class_name"], config["config"]
    entries = copy.deepcopy(inner.get("layers"))
    if kind not in MODEL_CLASSES or not isinstance(entries, list):
        raise _Problem(
            f"is a {kind} model whose layers are not in the file (a subclassed model): save a functional "
            "or Sequential model, or write a builder (model: {builder: module:function})"
        )
    for entry in entries:
        entry.setdefault("name", entry.get("config", {}).get("name"))
    if kind == "Sequential":
        first = entries.pop(0) if entries and entries[0].get("class_name") == "InputLayer" else None
        input_name = first["name"] if first else "input_layer"
        built_for = inner.get("build_input_shape")  # a Sequential model without an Input: any shape, unless built
        shape = _input_shape(first["config"]) if first else (tuple(built_for[1:]) if built_for else None)
        previous = (input_name, 0, 0)
        for entry in entries:
            entry["inbound_nodes"] = [{"args": [_reference(previous)], "kwargs": {}}]
            previous = (entry["name"], 0, 0)
        return Plan(path, inner.get("name") or "saved", input_name, shape, entries, previous)
    inputs, outputs = _one(inner.get("input_layers"), "input"), _one(inner.get("output_layers"), "output")
    first = next((e for e in entries if e["name"] == inputs[0] and e.get("class_name") == "InputLayer"), None)
    if first is None:
        raise _Problem(f"has no InputLayer '{inputs[0]}' for its input")
    entries.remove(first)
    return Plan(path, inner.get("name") or "saved", first["name"], _input_shape(first["config"]), entries, outputs)


def _one(refs, what: str) -> tuple:
    """The one (layer, node, tensor) of a functional model's input_layers or output_layers."""
    if isinstance(refs, list) and refs and isinstance(refs[0], str):
        refs = [refs]
    if not isinstance(refs, list) or len(refs) != 1:
        raise _Problem(f"has {len(refs) if isinstance(refs, list) else 'no'} {what}s, not one image {what}")
    return tuple(refs[0])


def _input_shape(config: dict) -> tuple:
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if not shape:
        raise _Problem("has an InputLayer without a shape")
    return tuple(shape[1:])


def _reference(history: tuple) -> dict:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": list(history)}}


def _check_entry(entry: dict) -> None:
    kind, name = entry.get("class_name"), entry["name"]
    if kind in MODEL_CLASSES or "layers" in entry.get("config", {}):
        raise _Problem(
            f"has a nested model, layer '{name}' ({kind}): actbench replaces activations in one graph of "
            "layers, so save the model with that model's layers inline, or write a builder"
        )
    nodes = entry.get("inbound_nodes")
    if "module" not in entry or not isinstance(nodes, list) or any(not isinstance(n, dict) for n in nodes):
        raise _Problem(f"was saved by Keras 2 (layer '{name}' has the old format); load and save it with Keras 3")
    if kind not in KERNEL_CLASSES and kind not in ACTIVATION_CLASSES:
        for key in ("activation", "recurrent_activation"):
            inside = _activation_name(entry["config"].get(key))
            if inside not in (None, "linear"):
                raise _Problem(
                    f"has layer '{name}' ({kind}) with {key}={inside} inside it, which actbench cannot replace "
                    "(only Conv/Dense activations and activation layers)"
                )


def _replacement(entry: dict, is_output: bool) -> str | None:
    """What the file has where the run's activation goes (None: nothing to replace here)."""
    kind, config = entry["class_name"], entry["config"]
    if is_output:
        return None  # the output's activation (its softmax) is kept
    if kind in KERNEL_CLASSES:
        name = _activation_name(config.get("activation"))
        return None if name in (None, "linear") else f"activation={name}"
    if kind == "Activation":
        name = _activation_name(config.get("activation"))
        return None if name in (None, "linear") else f"Activation({name})"
    return f"{kind} layer" if kind in ACTIVATION_CLASSES else None


def _activation_name(value) -> str | None:
    if isinstance(value, dict):  # a serialized function or object
        inner = value.get("config")
        return inner if isinstance(inner, str) else str(value.get("class_name"))
    return value


def _base(entry: dict, node: dict) -> str:
    """The name diagnostics give the activation placed at this entry's node."""
    name, kind = entry["name"], entry["class_name"]
    if kind in KERNEL_CLASSES:
        return name
    if name.startswith("act_"):
        return name.removeprefix("act_")
    if re.fullmatch(rf"{re.escape(keras_stem(kind))}(_\d+)?", name):  # named by Keras: after the layer it follows
        producer = next(iter(_histories(node.get("args", []))), None)
        return producer[0] if producer else name
    return name


def _histories(value):
    """The (layer, node, tensor) of every Keras tensor referenced in a node's arguments."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield tuple(value["config"]["keras_history"])
        else:
            for v in value.values():
                yield from _histories(v)
    elif isinstance(value, list):
        for v in value:
            yield from _histories(v)


def _cleared_seeds(value) -> bool:
    """Set every fixed seed in a layer's config to None (so the run's seed decides); whether any was."""
    cleared = False
    if isinstance(value, dict):
        for key, v in value.items():
            if key == "seed" and isinstance(v, int) and not isinstance(v, bool):
                value[key] = None
                cleared = True
            else:
                cleared |= _cleared_seeds(v)
    elif isinstance(value, list):
        for v in value:
            cleared |= _cleared_seeds(v)
    return cleared


def _made(arch, plan: Plan, act, input_shape: tuple):
    """The file's graph on the dataset's images with act() placed; raises ConfigError via _Problem."""
    try:
        return _rebuild(plan, act, tuple(input_shape))
    except _Problem as e:
        raise ConfigError(
            f"model '{arch.label}': saved model '{arch.keras_model}' ({plan.path}) {e}. {HINT}."
        ) from None


def _rebuild(plan: Plan, act, input_shape: tuple):
    import keras

    wanted = plan.input_shape or tuple(None for _ in input_shape)
    if len(wanted) != len(input_shape) or any(w is not None and w != d for w, d in zip(wanted, input_shape)):
        raise _Problem(f"takes inputs of shape {wanted}, not the dataset's {input_shape}")
    inputs = keras.Input(shape=input_shape, name=plan.input_name)
    tensors = {(plan.input_name, 0, 0): inputs}
    # Every layer made first, in the file's order (as Keras' from_config): the seeds they draw do not
    # depend on the calls; a replaced activation layer is not made at all (act() goes there).
    made = {e["name"]: _layer(e) for e in plan.layers if not _is_replaced_activation(plan, e)}
    pending = [(e, k, node) for e in plan.layers for k, node in enumerate(e["inbound_nodes"])]
    while pending:
        waiting = []
        for entry, k, node in pending:
            try:
                args, kwargs = _resolved(node.get("args", []), tensors), _resolved(node.get("kwargs", {}), tensors)
            except KeyError:
                waiting.append((entry, k, node))
                continue
            out = _call(plan, entry, k, made, act, args, kwargs)
            for i, tensor in enumerate(keras.tree.flatten(out)):
                tensors[(entry["name"], k, i)] = tensor
        if len(waiting) == len(pending):
            raise _Problem(f"has layers whose inputs never come ({', '.join(e['name'] for e, _, _ in waiting)})")
        pending = waiting
    if plan.output not in tensors:
        raise _Problem(f"has no layer '{plan.output[0]}' for its output")
    return keras.Model(inputs, tensors[plan.output], name=plan.name)


def _is_replaced_activation(plan: Plan, entry: dict) -> bool:
    return entry["name"] in plan.replaced and entry["class_name"] in ACTIVATION_CLASSES


def _layer(entry: dict):
    import keras

    data = {k: v for k, v in entry.items() if k not in ("inbound_nodes", "build_config")}  # built on the dataset
    try:
        return keras.saving.deserialize_keras_object(data)
    except Exception as e:  # whatever Keras says of the file's layer
        raise _Problem(
            f"has layer '{entry['name']}' ({entry['class_name']}), which Keras cannot re-create: {last_line(e)}"
        ) from None


def _call(plan: Plan, entry: dict, k: int, made: dict, act, args: list, kwargs: dict):
    name = entry["name"]
    if _is_replaced_activation(plan, entry):
        return act(plan.bases[(name, k)])(args[0])
    out = made[name](*args, **kwargs)
    return act(plan.bases[(name, k)])(out) if name in plan.replaced else out


def _resolved(value, tensors: dict):
    """A node's arguments with each Keras tensor reference replaced by the tensor (KeyError: not made yet)."""
    if isinstance(value, dict):
        kind = value.get("class_name")
        if kind == "__keras_tensor__":
            return tensors[tuple(value["config"]["keras_history"])]
        if kind == "__tuple__":
            return tuple(_resolved(v, tensors) for v in value["config"]["value"])
        return {k: _resolved(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, tensors) for v in value]
    return value
