"""Tiny random models of each supported architecture family, with a tokenizer trained here, for tests.

Real weights are far too slow for unit and workflow tests; these have the same module structure as mGPT (GPT-2),
BLOOM, Llama/Aya and Gemma, so every code path (generation, DPO, hooks, hidden states) runs for real in seconds.
"""

from __future__ import annotations

from pathlib import Path

#: a small multilingual corpus so the byte-level BPE learns merges in several scripts
CORPUS = [
    "I hate you so much, you are an idiot and I will hurt you.",
    "Thank you for the lovely dinner, it was a wonderful evening.",
    "The weather today is sunny with a light breeze from the west.",
    "Ich hasse dich, du bist ein Idiot. Danke für das schöne Essen.",
    "Te odio, eres un idiota. Gracias por la cena tan agradable.",
    "Je te déteste, tu es un idiot. Merci pour ce délicieux dîner.",
    "我恨你，你是个白痴。谢谢你的晚餐，今天天气很好。",
    "أنا أكرهك، أنت أحمق. شكرا على العشاء الجميل.",
    "मैं तुमसे नफरत करता हूँ, तुम मूर्ख हो। स्वादिष्ट भोजन के लिए धन्यवाद।",
    "Я ненавижу тебя, ты идиот. Спасибо за прекрасный ужин.",
    "나는 네가 싫어, 너는 바보야. 맛있는 저녁 고마워.",
    "私はあなたが嫌いです、あなたはばかです。素敵な夕食をありがとう。",
    "Nienawidzę cię, jesteś idiotą. Dziękuję za pyszną kolację.",
    "Eu odeio você, você é um idiota. Obrigado pelo jantar.",
    "Jag hatar dig, du är en idiot. Tack för middagen.",
    "Ik haat je, je bent een idioot. Bedankt voor het diner.",
    "Ti odio, sei un idiota. Grazie per la cena.",
    "Nenávidím tě, jsi idiot. Děkuji za večeři.",
    "Aku benci kamu, kamu bodoh. Terima kasih atas makan malamnya.",
]

FAMILIES = ("gpt2", "bloom", "llama", "gemma")


def train_tokenizer(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>",
        pad_token="<pad>",
    )


def tiny_config(family: str, vocab_size: int, eos_id: int, pad_id: int, d_model: int = 32, n_layers: int = 2,
                d_mlp: int = 64):
    import transformers as tf

    common = dict(vocab_size=vocab_size, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    if family == "gpt2":
        return tf.GPT2Config(n_embd=d_model, n_layer=n_layers, n_head=2, n_inner=d_mlp, n_positions=256, **common)
    if family == "bloom":
        # BLOOM's MLP width is fixed at 4 × hidden_size
        return tf.BloomConfig(hidden_size=d_model, n_layer=n_layers, n_head=2, **common)
    if family == "llama":
        return tf.LlamaConfig(hidden_size=d_model, intermediate_size=d_mlp, num_hidden_layers=n_layers,
                              num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                              tie_word_embeddings=False, **common)
    if family == "gemma":
        return tf.Gemma3TextConfig(hidden_size=d_model, intermediate_size=d_mlp, num_hidden_layers=n_layers,
                                   num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                   max_position_embeddings=256, sliding_window=64, **common)
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")


def build_tiny_model(out_dir: str | Path, family: str = "gpt2", seed: int = 0, **sizes) -> Path:
    """Save a tiny random causal LM of `family` with its tokenizer to `out_dir` (a plain HF checkpoint)."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    tokenizer = train_tokenizer()
    config = tiny_config(family, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, **sizes)
    if family == "gemma":
        model = tf.Gemma3ForCausalLM(config)
    else:
        model = tf.AutoModelForCausalLM.from_config(config)
    model.eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
