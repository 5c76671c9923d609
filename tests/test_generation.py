import pytest
import torch

from helpers import sampling
from xdetox.generation.base import sample_seed
from xdetox.generation.hf import HFBackend, load_model
from xdetox.generation.nucleus import draw, nucleus_sets

PROMPTS = [
    {"id": "0", "lang": "en", "text": "I hate you"},
    {"id": "1", "lang": "en", "text": "Thank you for the lovely"},
    {"id": "2", "lang": "zh-hans", "text": "你好"},
]


def dense(ids, probs, vocab):
    out = torch.zeros(ids.shape[0], vocab, dtype=torch.float64)
    out.scatter_add_(1, ids, probs.double())
    return out


@pytest.mark.parametrize("shortlist", [4, 1024])
def test_nucleus_matches_transformers_top_p(shortlist):
    from transformers.generation.logits_process import TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(16, 50) * 3
    logits[0] = torch.randn(50) * 0.01  # near-flat row: the nucleus is wider than the shortlist
    ids, probs = nucleus_sets(logits, temperature=0.9, top_p=0.8, shortlist=shortlist)
    warped = TopPLogitsWarper(top_p=0.8)(None, logits / 0.9)
    expected = torch.softmax(warped, dim=-1).double()
    assert torch.allclose(dense(ids, probs, 50), expected, atol=1e-6)


def test_draw_follows_the_distribution():
    probs = torch.tensor([[0.5, 0.3, 0.2, 0.0]])
    ids = torch.tensor([[7, 3, 9, 0]])
    gens = [torch.Generator().manual_seed(s) for s in range(4000)]
    tokens = torch.cat([draw(ids, probs, [g]) for g in gens])
    freq = {t: (tokens == t).float().mean().item() for t in (7, 3, 9, 0)}
    assert freq[0] == 0.0
    assert freq[7] == pytest.approx(0.5, abs=0.03) and freq[3] == pytest.approx(0.3, abs=0.03)


def test_exact_counts_lengths_and_record_contract(tiny_model_dir):
    settings = sampling(n_samples=4, max_new_tokens=6, batch_size=2, dtype="float32")
    model, tok = load_model(str(tiny_model_dir("gpt2")), "float32")
    records = HFBackend(model, tok, progress=False).generate(None, PROMPTS, settings)
    assert len(records) == 12
    assert [(r["prompt_id"], r["sample"]) for r in records] == [(p["id"], s) for p in PROMPTS for s in range(4)]
    for r in records:
        assert set(r) == {"prompt_id", "lang", "sample", "prompt", "text", "n_tokens", "seed"}
        assert 0 <= r["n_tokens"] <= 6
        assert r["seed"] == sample_seed(0, r["lang"], r["prompt_id"], r["sample"])


def test_deterministic_and_independent_of_batching(tiny_model_dir):
    path = str(tiny_model_dir("llama"))
    a = HFBackend(progress=False).generate(path, PROMPTS, sampling(n_samples=3, max_new_tokens=5, batch_size=1, dtype="float32"))
    b = HFBackend(progress=False).generate(path, PROMPTS[::-1], sampling(n_samples=3, max_new_tokens=5, batch_size=3, dtype="float32"))
    c = HFBackend(progress=False).generate(path, PROMPTS, sampling(n_samples=3, max_new_tokens=5, batch_size=1, dtype="float32"))
    key = lambda rs: {(r["prompt_id"], r["sample"]): r["text"] for r in rs}
    assert a == c
    assert key(a) == key(b)
    d = HFBackend(progress=False).generate(path, PROMPTS, sampling(n_samples=3, max_new_tokens=5, seed=1, dtype="float32"))
    assert key(d) != key(a)


class EosAfter(torch.nn.Module):
    """Wraps a model so that sequences of even row index emit EOS at decoding step `step`."""

    def __init__(self, model, eos_id, step):
        super().__init__()
        self.inner, self.eos_id, self.step, self.calls = model, eos_id, step, 0
        self.generation_config = model.generation_config

    def forward(self, **kwargs):
        out = self.inner(**kwargs)
        if self.calls == self.step:
            out.logits[0::2, -1, :] = -1e9
            out.logits[0::2, -1, self.eos_id] = 1e9
        self.calls += 1
        return out


def test_eos_ends_a_continuation(tiny_model_dir):
    model, tok = load_model(str(tiny_model_dir("gpt2")), "float32")
    wrapped = EosAfter(model, tok.eos_token_id, step=2)
    records = HFBackend(wrapped, tok, progress=False).generate(
        None, PROMPTS[:1], sampling(n_samples=4, max_new_tokens=6, batch_size=1, dtype="float32"))
    assert [r["n_tokens"] for r in records][0::2] == [2, 2]
    assert all(r["n_tokens"] == 6 for r in records[1::2])
    assert all(tok.eos_token not in r["text"] for r in records)


@pytest.mark.parametrize("family", ["bloom", "gemma"])
def test_other_families(tiny_model_dir, family):
    records = HFBackend(progress=False).generate(
        str(tiny_model_dir(family)), PROMPTS, sampling(n_samples=2, max_new_tokens=3, dtype="float32"))
    assert len(records) == 6 and all(r["n_tokens"] <= 3 for r in records)
