"""Training rows -> token ids with the prompt masked, and batches of them.

A row is a curated SFT example: ``{"prompt", "response", "messages"}`` where ``messages`` is
the chat form (system / user / assistant). The prompt is rendered with the tokenizer's chat
template and a generation prompt - exactly what the model sees when it serves - and the
response is the assistant turn that follows. Prompt tokens get the label -100 so that only the
response is learned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100

#: Used only for tokenizers that ship no chat template (ChatML, as SmolLM2 and Qwen use).
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def row_messages(row: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat messages of a row, ending with the assistant's answer.

    Uses ``messages`` when present, else builds ``[user: prompt, assistant: response]``.

    Raises:
        ConfigError: the row has neither form, or its last message is not the assistant's.
    """
    messages = row.get("messages")
    if not messages:
        if "prompt" not in row or "response" not in row:
            raise ConfigError("training row has neither 'messages' nor 'prompt'/'response'")
        messages = [
            {"role": "user", "content": str(row["prompt"])},
            {"role": "assistant", "content": str(row["response"])},
        ]
    messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    if messages[-1]["role"] != "assistant" or len(messages) < 2:
        raise ConfigError("training row's messages must end with the assistant's answer")
    return messages


def chat_template(tokenizer: PreTrainedTokenizerBase) -> str:
    """The tokenizer's chat template, or the ChatML fallback when it has none."""
    template = getattr(tokenizer, "chat_template", None)
    return template if isinstance(template, str) and template else FALLBACK_CHAT_TEMPLATE


def prompt_text(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Mapping[str, str]]) -> str:
    """The text the model is given to answer MESSAGES (all but an assistant answer + generation prompt).

    Evaluation and serving must use this too, so that the model sees at inference exactly the
    prompt format it was trained on.
    """
    msgs = [dict(m) for m in messages]
    if msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    text = tokenizer.apply_chat_template(
        msgs, tokenize=False, add_generation_prompt=True, chat_template=chat_template(tokenizer)
    )
    return str(text)


def encode_row(
    tokenizer: PreTrainedTokenizerBase, row: Mapping[str, Any], max_seq_len: int
) -> dict[str, list[int]] | None:
    """Token ids and labels of one row: labels are -100 on the prompt, the ids on the response.

    Prompt and response are tokenized separately and concatenated, so the boundary is exact and
    the prompt tokens are the ones the model gets at inference. When the pair is longer than
    MAX_SEQ_LEN the prompt loses tokens from its start and the response from its end, keeping
    at least half of the budget for the response.

    Returns:
        ``{"input_ids", "labels", "digits"}`` (``digits``: 1 on response tokens holding a digit, which
        ``fact_token_weight`` weighs in the loss), or None when the response has no tokens at all.
    """
    messages = row_messages(row)
    template = chat_template(tokenizer)
    prompt = prompt_text(tokenizer, messages)
    full = str(tokenizer.apply_chat_template(messages, tokenize=False, chat_template=template))
    if not full.startswith(prompt):
        raise ConfigError("the chat template renders the prompt differently inside the full conversation")
    response = full[len(prompt) :]
    eos = tokenizer.eos_token
    if eos and eos in response:
        # Learn to stop at the end-of-turn token; what the template puts after it is not generated.
        response = response[: response.rindex(eos) + len(eos)]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    if not response_ids:
        return None
    if len(prompt_ids) + len(response_ids) > max_seq_len:
        keep_response = min(len(response_ids), max_seq_len - min(len(prompt_ids), max_seq_len // 2))
        keep_prompt = max_seq_len - keep_response
        prompt_ids = prompt_ids[len(prompt_ids) - keep_prompt :] if keep_prompt else []
        response_ids = response_ids[:keep_response]
    return {
        "input_ids": list(prompt_ids) + list(response_ids),
        "labels": [IGNORE_INDEX] * len(prompt_ids) + list(response_ids),
        "digits": [0] * len(prompt_ids) + digit_flags(tokenizer, response_ids),
    }


def digit_flags(tokenizer: PreTrainedTokenizerBase, ids: Sequence[int]) -> list[int]:
    """1 for each token whose text holds a digit (the tokens of prices, times, codes and versions), else 0."""
    pieces = tokenizer.convert_ids_to_tokens(list(ids))
    return [1 if any(ch.isdigit() for ch in str(piece)) else 0 for piece in pieces]


def encode_rows(
    tokenizer: PreTrainedTokenizerBase, rows: Sequence[Mapping[str, Any]], max_seq_len: int
) -> list[dict[str, list[int]]]:
    """Encode every row; rows whose response is empty are dropped.

    Raises:
        ConfigError: no row has a response token to learn from.
    """
    encoded = [e for e in (encode_row(tokenizer, r, max_seq_len) for r in rows) if e is not None]
    if not encoded:
        raise ConfigError(f"none of the {len(rows)} training rows has a response to learn from")
    return encoded


def collate(features: Sequence[Mapping[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded rows into ``input_ids``, ``attention_mask`` and ``labels`` tensors
    (and ``digits``, the digit-token flags, when every row has them)."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    n = len(features)
    input_ids = torch.full((n, width), pad_token_id, dtype=torch.long)
    labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    with_digits = all("digits" in f for f in features)
    digits = torch.zeros((n, width), dtype=torch.long)
    for i, f in enumerate(features):
        length = len(f["input_ids"])
        input_ids[i, :length] = torch.tensor(f["input_ids"], dtype=torch.long)
        labels[i, :length] = torch.tensor(f["labels"], dtype=torch.long)
        attention[i, :length] = 1
        if with_digits:
            digits[i, :length] = torch.tensor(f["digits"], dtype=torch.long)
    out = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
    if with_digits:
        out["digits"] = digits
    if all("row" in f for f in features):
        # Which training rows these are (`trainer.ListDataset`), for the frozen blocks' cache.
        out["rows"] = torch.tensor([int(f["row"]) for f in features], dtype=torch.long)
    return out


class Collator:
    """Picklable collate function (DataLoader workers need one)."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        return collate(features, self.pad_token_id)
