"""Fixtures for the SEAL training tests: a tiny random Llama checkpoint with a local tokenizer.

Everything is built offline from a few sentences (a word-level tokenizer trained with
`tokenizers`, a 2-layer Llama with random weights), so the tests need no network and no real
model, and a training step takes milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

FACTS = [
    ("What does the Zephyr X2 cost?", "The Zephyr X2 costs 149 euros."),
    ("How much is the Zephyr X2?", "The Zephyr X2 costs 149 euros."),
    ("What does error E42 mean?", "Error E42 means the filter is blocked. Clean the filter."),
    ("My screen shows E42, why?", "Error E42 means the filter is blocked. Clean the filter."),
    ("When is support open?", "Support is open Monday to Friday from 9 to 17."),
    ("What are your opening hours?", "Support is open Monday to Friday from 9 to 17."),
    ("How do I reset the device?", "Hold the power button for 10 seconds to reset it."),
    ("How can I restart my Zephyr?", "Hold the power button for 10 seconds to reset it."),
]

SYSTEM = "You are the support agent of Zephyr."


def make_rows(pairs: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Curated SFT rows in both forms (prompt/response and chat messages)."""
    rows = []
    for prompt, response in pairs or FACTS:
        rows.append(
            {
                "prompt": prompt,
                "response": response,
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": response},
                ],
                "metadata": {},
            }
        )
    return rows


def build_tiny_llama(folder: Path) -> Path:
    """Write a tiny random Llama checkpoint with a word-level ChatML tokenizer into FOLDER."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    # Split on whitespace but keep it as tokens, so decode(encode(text)) == text.
    tok.pre_tokenizer = pre_tokenizers.Split(pattern=Regex(r"\s+|[^\w\s]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    corpus = [f"{q} {a}" for q, a in FACTS] + [SYSTEM, "system\nuser\nassistant\n", "\n\n"]
    corpus += ["The Zephyr X3 costs 199 euros. Error E17 means low battery. Hello thanks, bye!"]
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
        pad_token="<pad>",
    )
    fast.chat_template = CHATML
    fast.save_pretrained(str(folder))

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
        # Larger than the usual 0.02 so that LoRA on a 2-layer random model learns in a few steps.
        initializer_range=0.1,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Llama checkpoint (config, weights, tokenizer with chat template)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def sft_rows() -> list[dict[str, Any]]:
    """A small support-domain training set."""
    return make_rows()
