"""Generation for the evaluation: loading the base, attaching adapters, and greedy batched answers.

Models are parameters: pass a checkpoint folder (loaded with
:mod:`aion_assets.seal.training.base_models`) or an already loaded model and tokenizer, so tests can use a
tiny random Llama and the asset can reuse a loaded base. Adapter folders must be plain PEFT
folders (decrypt encrypted adapters first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


#: Prompts generated together, at most: a batch runs until its longest answer ends, so on a CPU a
#: larger batch costs little more than a small one (2 cores: 48 prompts in one batch 60 s, in three
#: of 16 87 s); 64 keeps the KV cache of a small model's batch far below a GB.
GENERATION_BATCH_SIZE = 64


def balanced_batches(count: int, batch_size: int) -> list[range]:
    """COUNT items in as few batches of at most BATCH_SIZE as possible, of sizes differing by at most one (pure).

    A batch generates until its longest answer ends, so on a CPU a batch costs nearly as much when
    it is half full: 50 prompts at 48 are two batches of 25, not 48 and 2.
    """
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    if count <= 0:
        return []
    n = -(-count // batch_size)
    size, extra = divmod(count, n)
    out, start = [], 0
    for b in range(n):
        end = start + size + (1 if b < extra else 0)
        out.append(range(start, end))
        start = end
    return out


def generate_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str | Sequence[Mapping[str, str]]],
    max_new_tokens: int = 128,
    seed: int = 0,
    batch_size: int = GENERATION_BATCH_SIZE,
    progress: Callable[[str], None] | None = None,
    task: str = "answers",
) -> list[str]:
    """Greedy answers to PROMPTS (a user message each, or a list of chat messages), in order.

    Prompts are rendered with the training prompt format, sorted by length and split into
    balanced batches of at most BATCH_SIZE (:func:`balanced_batches`), left-padded (so every answer
    starts right after its prompt), and decoded without special tokens.
    ``progress`` (if given) is called after each batch with "answers done/total"; each batch is
    also reported as progress event TASK (:func:`aion_assets.seal.training.progress.report`).
    """
    import torch

    from aion_assets.seal.training.progress import report
    from aion_assets.seal.training.train_data import prompt_text

    if max_new_tokens < 1 or batch_size < 1:
        raise ConfigError("max_new_tokens and batch_size must be at least 1")
    texts = [
        prompt_text(tokenizer, [{"role": "user", "content": p}] if isinstance(p, str) else list(p))
        for p in prompts
    ]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    answers: list[str] = [""] * len(texts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise ConfigError("the tokenizer has neither a pad nor an EOS token; cannot batch generation")
    old_side = tokenizer.padding_side
    was_training = model.training
    tokenizer.padding_side = "left"
    model.eval()
    torch.manual_seed(seed)
    try:
        for batch in balanced_batches(len(order), batch_size):
            idx = order[batch.start : batch.stop]
            enc = tokenizer(
                [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(model.device)
            with torch.inference_mode():
                out = model.generate(  # type: ignore[operator]
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    pad_token_id=pad_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, seq in zip(idx, new, strict=True):
                answers[i] = str(tokenizer.decode(seq, skip_special_tokens=True)).strip()
            done = batch.stop
            report(task, done, len(order))
            if progress is not None:
                progress(f"answers {done}/{len(order)}")
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            model.train()
    return answers


def load_model(
    base: Any, tokenizer: PreTrainedTokenizerBase | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """BASE as a (model, tokenizer) pair: a checkpoint folder is loaded, a loaded model needs TOKENIZER.

    Raises:
        ConfigError: the folder is no Hugging Face checkpoint, or a loaded model came without a tokenizer.
    """
    if isinstance(base, (str, Path)):
        from aion_assets.seal.training.base_models import load_causal_lm, load_tokenizer

        path = Path(base)
        if not (path / "config.json").is_file():
            raise ConfigError(f"base model {path} is not a Hugging Face checkpoint folder (no config.json)")
        return load_causal_lm(path), tokenizer or load_tokenizer(path)
    if tokenizer is None:
        raise ConfigError("pass the tokenizer together with a loaded base model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return base, tokenizer


def peft_folder(path: Path, what: str) -> Path:
    """PATH, checked to be a plain PEFT adapter folder (ArtifactError naming WHAT adapter otherwise)."""
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise ArtifactError(f"{what} adapter {path} is not a PEFT folder (no adapter_config.json)")
    return path


@contextlib.contextmanager
def attach_adapters(model: Any, adapters: Mapping[str, Path]) -> Iterator[Any]:
    """Attach the named adapters to MODEL for the block, and take them off afterwards.

    PeftModel.from_pretrained injects LoRA layers into the base in place; unloading restores
    the caller's model unchanged (nothing is merged), so a loaded base can be reused.
    """
    if not adapters:
        yield None
        return
    from peft import PeftModel

    names = list(adapters)
    peft_model = PeftModel.from_pretrained(
        model, str(adapters[names[0]]), adapter_name=names[0], is_trainable=False
    )
    try:
        for name in names[1:]:
            peft_model.load_adapter(str(adapters[name]), adapter_name=name, is_trainable=False)
        peft_model.eval()
        yield peft_model
    finally:
        peft_model.unload()
