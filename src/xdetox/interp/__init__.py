"""Mechanistic interpretability of toxicity in MLP value vectors (paper §4), for any supported family.

- `adapters`: where each architecture keeps its MLP neurons, value vectors and unembedding; PyTorch hooks.
- `probe`: the linear toxicity probe w_toxic on the mean-pooled last hidden state.
- `value_vectors`: potential (top-k cosine with w_toxic) and actual (positive mean activation) sources of toxicity.
- `projections`: value vectors projected onto the vocabulary (Tables 4, 8, 9).
- `intervention`: adding an offset to neuron activations (Table 5, Figure 2).
- `activations`: activations of the selected neurons per language before and after DPO (Figure 3).
"""
