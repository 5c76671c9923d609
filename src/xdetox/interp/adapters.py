"""Where each architecture keeps its MLP neurons, value vectors and unembedding — one small adapter per family.

The paper's decomposition (§4.1): MLP(x) = W_down a(x) = Σ_j a_j · w_down_j, where the activation
a(x) is the input of the down projection and the value vector w_down_j is the j-th column of W_down (in d_model).
The activation is read (and edited) with a forward pre-hook on the down projection, so it is exactly what the down
projection multiplies, whatever comes before it:

| family | layers | activation (input of) | value vector n |
|---|---|---|---|
| gpt2 (GPT-2, mGPT) | `transformer.h[i]` | `mlp.c_proj` = act(c_fc(x)) | `c_proj.weight[n]` (Conv1D stores [in, out]) |
| bloom | `transformer.h[i]` | `mlp.dense_4h_to_h` = gelu(dense_h_to_4h(x)) | `dense_4h_to_h.weight[:, n]` |
| llama (Llama, Aya/Cohere, Mistral, Qwen2) | `model.layers[i]` | `mlp.down_proj` = act(gate_proj(x)) * up_proj(x) | `down_proj.weight[:, n]` |
| gemma (Gemma 1/2/3) | `model.layers[i]` | as llama | as llama |

Gemma 2 and 3 apply `post_feedforward_layernorm` (an RMSNorm) to the MLP output before adding it to the residual
stream, so a neuron's downstream effect is *not* linear in its activation there (`adapter.post_mlp_norm` is True):
an offset γ on a neuron still changes the down projection's output by exactly γ·w_down, but what reaches the
residual stream is that output renormalised.

Everything downstream (probe, ranking, projection, intervention, activation statistics) only uses this interface.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Iterable, Iterator, Sequence

import torch
from torch import nn

from .. import XdetoxError

#: transformers `model_type` → adapter family
MODEL_TYPE_FAMILY = {
    "gpt2": "gpt2",
    "bloom": "bloom",
    "llama": "llama",
    "cohere": "llama",
    "mistral": "llama",
    "qwen2": "llama",
    "gemma": "gemma",
    "gemma2": "gemma",
    "gemma3_text": "gemma",
}

Neuron = tuple[int, int]


class ActivationRecorder:
    """Activations captured by `MLPAdapter.record`: one entry per forward call of the model, per layer."""

    def __init__(self, neurons: Sequence[Neuron] | None, n_layers: int, last_position: bool):
        self.neurons = list(neurons) if neurons is not None else None
        self.last_position = last_position
        self._by_layer: dict[int, list[torch.Tensor]] = defaultdict(list)
        # per layer: the neuron indices to keep, and where each lands in the output's neuron axis
        self._index: dict[int, torch.Tensor | None] = {}
        self._slots: dict[int, list[int]] = defaultdict(list)
        if self.neurons is None:
            self._index = {layer: None for layer in range(n_layers)}
        else:
            per_layer: dict[int, list[int]] = defaultdict(list)
            for slot, (layer, neuron) in enumerate(self.neurons):
                per_layer[layer].append(neuron)
                self._slots[layer].append(slot)
            self._index = {layer: torch.tensor(ids) for layer, ids in per_layer.items()}

    @property
    def layers(self) -> list[int]:
        return sorted(self._index)

    def _capture(self, layer: int, activation: torch.Tensor) -> None:
        act = activation.detach()
        if self.last_position:
            act = act[:, -1, :]
        index = self._index[layer]
        if index is not None:
            act = act.index_select(-1, index.to(act.device))
        self._by_layer[layer].append(act.float().cpu())

    def layer(self, layer: int) -> list[torch.Tensor]:
        """This layer's captures, one per forward call: [batch, (pos,) d_mlp or its selected neurons]."""
        return self._by_layer[layer]

    def steps(self) -> torch.Tensor:
        """The selected neurons' last-position activations as [n_calls, batch, n_neurons], in `neurons` order."""
        if self.neurons is None or not self.last_position:
            raise XdetoxError("steps() needs record(neurons=[...], last_position=True)")
        if not self.neurons:
            return torch.zeros(0, 0, 0)
        n_calls = {len(self._by_layer[layer]) for layer in self._index}
        if len(n_calls) != 1:
            raise XdetoxError(f"layers captured different numbers of forward calls: {sorted(n_calls)}")
        calls = n_calls.pop()
        if calls == 0:
            return torch.zeros(0, 0, len(self.neurons))
        batch = self._by_layer[self.layers[0]][0].shape[0]
        out = torch.empty(calls, batch, len(self.neurons))
        for layer in self._index:
            out[:, :, self._slots[layer]] = torch.stack(self._by_layer[layer])
        return out

    def clear(self) -> None:
        self._by_layer.clear()


class MLPAdapter:
    """The MLP neurons of one causal LM. Subclasses say where the blocks and down projections are."""

    family = ""

    def __init__(self, model: nn.Module):
        self.model = model
        self.blocks = list(self._blocks())
        if not self.blocks:
            raise XdetoxError(f"{type(model).__name__}: no transformer blocks found for family {self.family!r}")

    # ---- architecture specifics -------------------------------------------------------------------------------
    def _blocks(self) -> Iterable[nn.Module]:
        raise NotImplementedError

    def down_proj(self, layer: int) -> nn.Module:
        raise NotImplementedError

    def _value_matrix(self, layer: int) -> torch.Tensor:
        """[d_mlp, d_model]: row n is neuron n's value vector."""
        raise NotImplementedError

    #: True when the MLP output is normalised before it joins the residual stream (Gemma 2/3)
    @property
    def post_mlp_norm(self) -> bool:
        return False

    # ---- shapes ---------------------------------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def d_mlp(self) -> int:
        return self._value_matrix(0).shape[0]

    @property
    def d_model(self) -> int:
        return self._value_matrix(0).shape[1]

    # ---- weights --------------------------------------------------------------------------------------------------
    def value_vectors(self, layer: int | None = None) -> torch.Tensor:
        """Value vectors of one layer [d_mlp, d_model], or of all layers [n_layers * d_mlp, d_model]
        (row layer * d_mlp + neuron)."""
        if layer is not None:
            return self._value_matrix(layer).detach()
        return torch.cat([self._value_matrix(i).detach() for i in range(self.n_layers)], dim=0)

    def value_vector(self, layer: int, neuron: int) -> torch.Tensor:
        return self._value_matrix(layer)[neuron].detach()

    def unembedding(self) -> torch.Tensor:
        """W_U as [vocab, d_model] (the LM head; no final norm, as the reference's projections)."""
        head = self.model.get_output_embeddings()
        if head is None:
            raise XdetoxError(f"{type(self.model).__name__} has no output embedding (LM head)")
        return head.weight.detach()

    def flat_index(self, layer: int, neuron: int) -> int:
        return layer * self.d_mlp + neuron

    def unflat(self, index: int) -> Neuron:
        return divmod(int(index), self.d_mlp)

    def check(self, neurons: Iterable[Neuron]) -> list[Neuron]:
        out = []
        for layer, neuron in neurons:
            if not (0 <= layer < self.n_layers and 0 <= neuron < self.d_mlp):
                raise XdetoxError(f"neuron ({layer}, {neuron}) is outside {self.n_layers} layers × {self.d_mlp} neurons")
            out.append((int(layer), int(neuron)))
        return out

    # ---- hooks ----------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def record(self, neurons: Sequence[Neuron] | None = None, last_position: bool = True) -> Iterator[ActivationRecorder]:
        """Capture neuron activations (the down projection's input) on every forward call inside the block.

        neurons: the (layer, neuron) pairs to keep (None: every neuron of every layer); last_position: keep only
        the last sequence position of each call (at a decoding step with a KV cache that is the new token).
        Hooks run in the order they were entered, so a recorder entered after `add_offset` sees edited values.
        """
        if neurons is not None:
            neurons = self.check(neurons)
        recorder = ActivationRecorder(neurons, self.n_layers, last_position)
        handles = []
        try:
            for layer in recorder.layers:
                def hook(module, args, layer=layer):
                    recorder._capture(layer, args[0])
                handles.append(self.down_proj(layer).register_forward_pre_hook(hook))
            yield recorder
        finally:
            for handle in handles:
                handle.remove()

    @contextlib.contextmanager
    def add_offset(self, neurons: Sequence[Neuron], offset: float) -> Iterator[None]:
        """Add `offset` to the activation of each (layer, neuron) at every position of every forward call, as the
        reference's TransformerLens hook on `mlp_post` does (prompt tokens included, at every decoding step)."""
        per_layer: dict[int, list[int]] = defaultdict(list)
        for layer, neuron in self.check(neurons):
            per_layer[layer].append(neuron)
        handles = []
        try:
            if offset != 0:
                for layer, ids in per_layer.items():
                    index = torch.tensor(sorted(set(ids)))

                    def hook(module, args, index=index):
                        x = args[0].clone()
                        x[..., index.to(x.device)] += offset
                        return (x, *args[1:])

                    handles.append(self.down_proj(layer).register_forward_pre_hook(hook))
            yield
        finally:
            for handle in handles:
                handle.remove()


class GPT2Adapter(MLPAdapter):
    family = "gpt2"

    def _blocks(self):
        return self.model.transformer.h

    def down_proj(self, layer):
        return self.blocks[layer].mlp.c_proj

    def _value_matrix(self, layer):
        return self.down_proj(layer).weight  # Conv1D: [in = d_mlp, out = d_model]


class BloomAdapter(MLPAdapter):
    family = "bloom"

    def __init__(self, model):
        cfg = model.config
        if getattr(cfg, "pretraining_tp", 1) > 1 and getattr(cfg, "slow_but_exact", False):
            # BloomMLP then multiplies slices of dense_4h_to_h.weight itself and never calls the module
            raise XdetoxError("BLOOM with slow_but_exact=True bypasses dense_4h_to_h; load it with slow_but_exact=False")
        super().__init__(model)

    def _blocks(self):
        return self.model.transformer.h

    def down_proj(self, layer):
        return self.blocks[layer].mlp.dense_4h_to_h

    def _value_matrix(self, layer):
        return self.down_proj(layer).weight.T  # nn.Linear: [out = d_model, in = d_mlp]


class GatedAdapter(MLPAdapter):
    """Llama, Aya-23 (Cohere), Mistral, Qwen2: down_proj(act(gate_proj(x)) * up_proj(x))."""

    family = "llama"

    def _blocks(self):
        return self.model.model.layers

    def down_proj(self, layer):
        return self.blocks[layer].mlp.down_proj

    def _value_matrix(self, layer):
        return self.down_proj(layer).weight.T


class GemmaAdapter(GatedAdapter):
    family = "gemma"

    @property
    def post_mlp_norm(self) -> bool:
        return hasattr(self.blocks[0], "post_feedforward_layernorm")


ADAPTERS = {"gpt2": GPT2Adapter, "bloom": BloomAdapter, "llama": GatedAdapter, "gemma": GemmaAdapter}


def detect_family(model: nn.Module) -> str:
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    try:
        return MODEL_TYPE_FAMILY[model_type]
    except KeyError:
        raise XdetoxError(
            f"no interpretability adapter for model_type {model_type!r} ({type(model).__name__}); "
            f"set the model's `family` to one of {', '.join(ADAPTERS)}"
        ) from None


def make_adapter(model: nn.Module, family: str | None = None) -> MLPAdapter:
    """The adapter for `family` (the model's config key), or for the family detected from the model's type."""
    family = family or detect_family(model)
    if family not in ADAPTERS:
        raise XdetoxError(f"unknown family {family!r}; choose from {', '.join(ADAPTERS)}")
    return ADAPTERS[family](model)


NONLINEAR_NOTE = (
    "Note: this model applies a normalisation (post-feedforward RMSNorm) to the MLP output before it joins the "
    "residual stream, so a neuron's downstream effect is not linear in its activation: an offset γ changes the down "
    "projection's output by exactly γ·w_down, but what reaches the residual stream is that output renormalised, and "
    "the vocabulary projection of w_down ignores this norm (as the reference ignores the final norm)."
)


def caption_note(adapter: MLPAdapter) -> str:
    return NONLINEAR_NOTE if adapter.post_mlp_norm else ""
