"""The models we know by name, without torch: prompt format, usable context, rough size.

The table supplies better defaults and clearer error messages; anything else
transformers can load still works. Also here: choosing the template and the context
window of a loaded model. Sizes are bf16 weights, the number a user compares with
their GPU's memory. Where weights come from is `weights.py`; tokenizer conventions
(BOS, end ids) are `tokens.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starcoder_ls.engine import fim
from starcoder_ls.engine.base import EngineError

EMBEDDED_NAME = "SmolLM2-135M (embedded)"
"""The one spelling of the embedded default model's name, wherever it is shown."""
MAX_AUTO_CONTEXT = 16384
"""Upper bound for a context window taken from a model's config (some claim 128k)."""


STARCODER_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<fim_prefix>",
    "<fim_middle>",
    "<fim_suffix>",
    "<fim_pad>",
    "<filename>",
    "<gh_stars>",
    "<issue_start>",
    "<issue_comment>",
    "<issue_closed>",
    "<jupyter_start>",
    "<jupyter_text>",
    "<jupyter_code>",
    "<jupyter_output>",
    "<empty_output>",
    "<commit_before>",
    "<commit_msg>",
    "<commit_after>",
    "<reponame>",
)
"""StarCoder's special tokens in its order: `<|endoftext|>` is id 0, `<fim_prefix>` 1."""


def starcoder_tokenizer(tokenizer: Any, **options: Any) -> Any:
    """A `tokenizers.Tokenizer` holding `STARCODER_SPECIAL_TOKENS` as transformers' fast
    tokenizer, with StarCoder's end token as BOS, EOS and UNK (the random-weights bench
    and the tiny test models build theirs this way); `options` go to it as they are."""
    from transformers import PreTrainedTokenizerFast

    end = STARCODER_SPECIAL_TOKENS[0]
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=end,
        eos_token=end,
        unk_token=end,
        extra_special_tokens=list(STARCODER_SPECIAL_TOKENS[1:]),
        **options,
    )


@dataclass(frozen=True, kw_only=True)
class KnownModel:
    id: str
    template: str
    """Name in `fim.TEMPLATES`; used when the tokenizer really has its sentinels."""
    context_window: int
    """Tokens of prompt + completion we plan for (the trained length, or less where noted)."""
    bf16_gb: float
    gated: bool = False


def _k(
    model_id: str, template: str, context_window: int, bf16_gb: float, **kwargs: object
) -> KnownModel:
    return KnownModel(
        id=model_id, template=template, context_window=context_window, bf16_gb=bf16_gb, **kwargs
    )


_SC = "starcoder"
_QWEN = "qwen2.5-coder"
_DS = "deepseek-coder"

KNOWN_MODELS: dict[str, KnownModel] = {
    m.id.lower(): m
    for m in (
        _k("bigcode/starcoder", _SC, 8192, 32.0, gated=True),
        _k("bigcode/starcoderbase", _SC, 8192, 32.0, gated=True),
        _k("bigcode/starcoderbase-1b", _SC, 8192, 2.3, gated=True),
        _k("bigcode/starcoderbase-3b", _SC, 8192, 6.1, gated=True),
        _k("bigcode/starcoderbase-7b", _SC, 8192, 15.0, gated=True),
        _k("bigcode/starcoder2-3b", "starcoder2", 16384, 6.1),
        _k("bigcode/starcoder2-7b", "starcoder2", 16384, 14.5),
        _k("bigcode/starcoder2-15b", "starcoder2", 16384, 32.0),
        _k("bigcode/santacoder", "santacoder", 2048, 2.3),
        _k("bigcode/tiny_starcoder_py", _SC, 8192, 0.33),
        _k("codellama/CodeLlama-7b-hf", "codellama", 16384, 13.5),
        _k("deepseek-ai/deepseek-coder-1.3b-base", _DS, 16384, 2.7),
        _k("deepseek-ai/deepseek-coder-6.7b-base", _DS, 16384, 13.5),
        _k("deepseek-ai/deepseek-coder-33b-base", _DS, 16384, 67.0),
        _k("Qwen/Qwen2.5-Coder-0.5B", _QWEN, 32768, 1.0),
        _k("Qwen/Qwen2.5-Coder-1.5B", _QWEN, 32768, 3.1),
        _k("Qwen/Qwen2.5-Coder-3B", _QWEN, 32768, 6.2),
        _k("Qwen/Qwen2.5-Coder-7B", _QWEN, 32768, 15.2),
        _k("Qwen/Qwen2.5-Coder-14B", _QWEN, 32768, 29.5),
        _k("Qwen/Qwen2.5-Coder-32B", _QWEN, 32768, 65.5),
        _k("google/codegemma-2b", "codegemma", 8192, 5.0, gated=True),
        _k("mistralai/Codestral-22B-v0.1", "codestral", 32768, 44.5, gated=True),
        # Trained for 8k tokens, but prefilling that much on a laptop CPU takes seconds;
        # 2k keeps the default install responsive. `context_window` overrides it.
        _k(EMBEDDED_NAME, "prefix-only", 2048, 0.27),
    )
}


def lookup(model: str) -> KnownModel | None:
    """The table entry for a hub id, or for a local directory named like one.

    A local copy of `bigcode/starcoder` usually keeps the repository's name
    (`~/models/starcoder`), so the last path component is matched too.
    """
    key = model.strip().rstrip("/\\").lower()
    if key in KNOWN_MODELS:
        return KNOWN_MODELS[key]
    leaf = key.replace("\\", "/").rsplit("/", 1)[-1]
    for known_id, known in KNOWN_MODELS.items():
        if known_id.rsplit("/", 1)[-1] == leaf:
            return known
    return None


def approx_bf16_gb(model: str) -> float | None:
    known = lookup(model)
    return known.bf16_gb if known else None


def choose_template(name: str | None, tokenizer: Any, model_name: str) -> fim.FimTemplate:
    """The user's choice, else the known model's format if its sentinels exist, else detection."""
    if name:
        try:
            return fim.get_template(name)
        except ValueError as exc:
            raise EngineError(str(exc), retry=False) from None
    tokens = [*tokenizer.all_special_tokens, *tokenizer.get_added_vocab()]
    known = lookup(model_name)
    if known:
        chosen = fim.get_template(known.template)
        if not set(chosen.missing_tokens(tokens)) & set(chosen.required_tokens):
            return chosen
    return fim.detect_template(tokens, model_name)


def context_window(explicit: int | None, config: Any, tokenizer: Any, name: str) -> int:
    if explicit:
        return explicit
    limits = [config_positions(config)]
    known = lookup(name)
    limits.append(known.context_window if known else MAX_AUTO_CONTEXT)
    tokenizer_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_max, int) and tokenizer_max < 1_000_000:
        limits.append(tokenizer_max)
    return min(limit for limit in limits if limit)


def config_positions(config: Any) -> int | None:
    for key in ("n_positions", "max_position_embeddings", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
