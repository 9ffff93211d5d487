"""The prompt of one completion, built on the model's worker thread (the service's
`choices` and whoever else prompts the engine for a `CompletionContext`)."""

from __future__ import annotations

import dataclasses

from starcoder_ls.config import Settings
from starcoder_ls.cursor import crossfile
from starcoder_ls.cursor.exclusions import deny_list
from starcoder_ls.cursor.prompt import Prompt, PromptSpec, build_prompt
from starcoder_ls.engine.base import Engine
from starcoder_ls.text.types import CompletionContext, OpenDocument


def job_prompt(
    engine: Engine, ctx: CompletionContext, settings: Settings, others: tuple[OpenDocument, ...]
) -> Prompt:
    """Runs on the worker thread: counting tokens needs the engine's tokenizer."""
    info = engine.info
    window = settings.context_window or info.context_window
    snippets = (
        crossfile.select_snippets(
            dataclasses.replace(ctx, other_documents=others),
            excluded=deny_list(settings.excluded_files),
        )
        if others
        else ()
    )
    spec = PromptSpec(
        prefix=ctx.prefix,
        suffix=ctx.suffix,
        template=info.template,
        count_tokens=engine.count_tokens,
        encode=getattr(engine, "encode", None),
        context_window=window,
        max_new_tokens=min(settings.max_new_tokens, window // 2),
        prefix_share=settings.prefix_share,
        filename=ctx.path,
        use_fim=settings.fim,
        snippets=snippets,
        snippet_reserve=crossfile.reserve(window),
    )
    return build_prompt(spec)
