"""The fast nucleus sampler is the definition (nucleus_reference: a full stable sort) on every code path: shortlist
through chunk maxima, padded vocabularies, full-sort fallback, row blocks, and ties at the nucleus boundary."""

import pytest
import torch

from xdetox.generation.nucleus import CHUNK, draw, nucleus_reference, nucleus_sets, order_keys


def dense(ids, probs, vocab):
    out = torch.zeros(ids.shape[0], vocab, dtype=torch.float64)
    out.scatter_add_(1, ids, probs.double())
    return out


def kept_sets(ids, probs):
    return [set(i[p > 0].tolist()) for i, p in zip(ids, probs)]


def bf16_logits(rows, vocab, seed, scale=3.0):
    """Logits as a bf16 model produces them: few distinct values, so ties at the nucleus boundary are common."""
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(rows, vocab, generator=g) * scale).to(torch.bfloat16)
    logits[0] = (torch.randn(vocab, generator=g) * 0.01).to(torch.bfloat16)  # near-flat: wide nucleus
    logits[1, 5] = 40.0  # one dominant token: nucleus of size 1
    return logits


@pytest.mark.parametrize("vocab", [50, 1000, 4096 + 7, 20000])
@pytest.mark.parametrize("shortlist", [4, 64, 1024])
@pytest.mark.parametrize("block", [1, 3, 8])
def test_fast_path_is_the_definition(vocab, shortlist, block):
    logits = bf16_logits(12, vocab, seed=vocab + shortlist)
    ids, probs = nucleus_sets(logits, temperature=0.9, top_p=0.8, shortlist=shortlist, block=block)
    ref_ids, ref_probs = nucleus_reference(logits, 0.9, 0.8)
    assert kept_sets(ids, probs) == kept_sets(ref_ids, ref_probs)  # same tokens, ties included
    assert torch.allclose(dense(ids, probs, vocab), dense(ref_ids, ref_probs, vocab), atol=1e-6)
    assert ids.shape == probs.shape and ids.shape[1] <= vocab
    assert torch.allclose(probs.sum(-1).double(), torch.ones(12, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("vocab,shortlist", [(5000, 16), (50, 4)])
def test_matches_transformers_top_p_without_ties(vocab, shortlist):
    from transformers.generation.logits_process import TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(16, vocab) * 3  # float32: no ties
    ids, probs = nucleus_sets(logits, 0.9, 0.8, shortlist=shortlist)
    expected = torch.softmax(TopPLogitsWarper(top_p=0.8)(None, logits / 0.9), dim=-1).double()
    assert torch.allclose(dense(ids, probs, vocab), expected, atol=1e-6)


def test_ties_at_the_boundary_keep_the_lowest_token_ids():
    # four tokens tie for 2nd place; the nucleus needs two of them: the two lowest ids, whatever the path
    vocab = 3000
    logits = torch.full((1, vocab), -30.0)
    logits[0, 2000] = 3.0
    for t in (2500, 700, 1500, 100):
        logits[0, t] = 2.0
    for shortlist in (2, 3, 8, 4096):
        for block in (1, 8):
            ids, probs = nucleus_sets(logits, 1.0, 0.6, shortlist=shortlist, block=block)
            assert kept_sets(ids, probs) == [{2000, 100, 700}], (shortlist, block)


def test_shortlist_tie_straddling_its_end_falls_back_to_the_full_sort():
    # the nucleus boundary is a tie group larger than the shortlist: the row must be fully sorted
    vocab = CHUNK * 200
    logits = torch.full((1, vocab), -20.0)
    logits[0, ::7] = 1.0  # ~900 tied tokens, nucleus needs 80% of them
    ids, probs = nucleus_sets(logits, 1.0, 0.8, shortlist=64)
    ref_ids, ref_probs = nucleus_reference(logits, 1.0, 0.8)
    assert kept_sets(ids, probs) == kept_sets(ref_ids, ref_probs)


def test_order_keys_sort_by_value_then_lower_id():
    x = torch.tensor([[-1.5, 2.0, 2.0, -0.0, 0.0, -1e30, 7.25]])
    ids = torch.arange(7).unsqueeze(0)
    order = (ids.gather(1, torch.sort(order_keys(x, ids), descending=True).indices)).tolist()[0]
    assert order[:3] == [6, 1, 2]
    assert order[-2:] == [0, 5]


def test_draw_is_per_row_and_batch_independent():
    ids, probs = nucleus_sets(bf16_logits(6, 700, seed=3), 0.9, 0.8, shortlist=16)
    seeds = [11, 12, 13, 14, 15, 16]
    together = draw(ids, probs, [torch.Generator().manual_seed(s) for s in seeds])
    alone = torch.cat([draw(ids[i : i + 1], probs[i : i + 1], [torch.Generator().manual_seed(s)])
                       for i, s in enumerate(seeds)])
    assert torch.equal(together, alone)
    for row, token in enumerate(together.tolist()):
        assert token in kept_sets(ids, probs)[row]
