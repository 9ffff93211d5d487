"""Prompt formats against each family's documentation, and family detection.

Expected strings are written out by hand from the sources named in each test, so a
change to a template has to be argued against the documentation, not the code.
"""

from __future__ import annotations

import pytest

from starcoder_ls.engine.fim import TEMPLATES, comment_header, detect_template, get_template

# Special/added tokens as the families' tokenizer files list them.
STARCODER_TOKENS = [
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
    "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
    "<empty_output>", "<commit_before>", "<commit_msg>", "<commit_after>", "<reponame>",
]  # fmt: skip
STARCODER2_TOKENS = [
    "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>",
    "<repo_name>", "<file_sep>", "<issue_start>", "<issue_comment>", "<issue_closed>",
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>",
    "<jupyter_script>", "<empty_output>", "<code_to_intermediate>", "<intermediate_to_code>",
    "<pr>", "<pr_status>", "<pr_is_merged>", "<pr_base>", "<pr_file>", "<pr_base_code>",
    "<pr_diff>", "<pr_diff_hunk>", "<pr_comment>", "<NAME>", "<EMAIL>", "<KEY>", "<PASSWORD>",
]  # fmt: skip
SANTACODER_TOKENS = ["<|endoftext|>", "<fim-prefix>", "<fim-middle>", "<fim-suffix>", "<fim-pad>"]
CODELLAMA_TOKENS = ["<unk>", "<s>", "</s>", "▁<PRE>", "▁<MID>", "▁<SUF>", "▁<EOT>"]
DEEPSEEK_TOKENS = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>",
    "<｜fim▁end｜>", "<pad>", "<|User|>", "<|Assistant|>", "<|EOT|>",
]  # fmt: skip
QWEN_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
]  # fmt: skip
CODEGEMMA_TOKENS = [
    "<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_separator|>",
]  # fmt: skip
CODESTRAL_TOKENS = [
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[SUFFIX]", "[PREFIX]", "[MIDDLE]",
]  # fmt: skip
SMOLLM2_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>", "<file_sep>",
    "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>",
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>",
]  # fmt: skip


# --- rendering -----------------------------------------------------------------------


def test_starcoder_psm_matches_the_model_card() -> None:
    # huggingface.co/bigcode/starcoder, "Fill-in-the-middle"
    prompt = get_template("starcoder").render(
        "def print_hello_world():\n    ", "\n    print('Hello world!')"
    )
    assert prompt == (
        "<fim_prefix>def print_hello_world():\n    <fim_suffix>\n    print('Hello world!')"
        "<fim_middle>"
    )


def test_starcoder_filename_precedes_the_fim_block() -> None:
    prompt = get_template("starcoder").render("def f():\n    ", "\n", filename="src/app.py")
    assert prompt == "<filename>src/app.py\n<fim_prefix>def f():\n    <fim_suffix>\n<fim_middle>"


def test_starcoder_spm_puts_the_suffix_first_after_both_sentinels() -> None:
    # bigcode Megatron-LM FIM permutation, SPM variant:
    # [prefix_tok, suffix_tok] suffix [middle_tok] prefix
    prompt = get_template("starcoder-spm").render("def f(x):\n    return ", "\n\nprint(f(1))\n")
    assert prompt == "<fim_prefix><fim_suffix>\n\nprint(f(1))\n<fim_middle>def f(x):\n    return "


def test_santacoder_uses_hyphenated_sentinels() -> None:
    # huggingface.co/bigcode/santacoder, "Fill-in-the-middle"
    prompt = get_template("santacoder").render(
        "def print_hello_world():\n    ", "\n    print('Hello world!')"
    )
    assert prompt == (
        "<fim-prefix>def print_hello_world():\n    <fim-suffix>\n    print('Hello world!')"
        "<fim-middle>"
    )


def test_starcoder2_plain_fim_is_the_starcoder_format() -> None:
    # bigcode-project/starcoder2#10: "It's the same as StarCoder"
    assert get_template("starcoder2").render("prefix", "suffix") == (
        "<fim_prefix>prefix<fim_suffix>suffix<fim_middle>"
    )


def test_starcoder2_repo_context_matches_the_paper() -> None:
    # StarCoder2 paper, section 5.1: <repo_name>reponame<file_sep>filepath0\ncode0
    # <file_sep><fim_prefix>filepath1\ncode1_pre<fim_suffix>code1_suf<fim_middle>code1_mid
    template = get_template("starcoder2")
    context = template.format_snippet("filepath0", "code0")
    prompt = template.render("code1_pre", "code1_suf", filename="filepath1", context=context)
    assert prompt == (
        "<file_sep>filepath0\ncode0<file_sep><fim_prefix>filepath1\ncode1_pre"
        "<fim_suffix>code1_suf<fim_middle>"
    )


def test_codellama_spacing_matches_the_reference_implementation() -> None:
    # meta-llama/codellama llama/generation.py: format as "<PRE> {pre} <SUF>{suf} <MID>"
    prompt = get_template("codellama").render("def f(x):\n    ", "\n    return y\n")
    assert prompt == "<PRE> def f(x):\n     <SUF>\n    return y\n <MID>"


def test_deepseek_uses_full_width_bars_and_lower_blocks() -> None:
    # deepseek-ai/deepseek-coder README, "Code Insertion"
    prompt = get_template("deepseek-coder").render(
        "def quick_sort(arr):\n    if len(arr) <= 1:\n        return arr\n",
        "\n    return quick_sort(left) + [pivot] + quick_sort(right)",
    )
    assert prompt == (
        "<｜fim▁begin｜>def quick_sort(arr):\n    if len(arr) <= 1:\n        return arr\n"
        "<｜fim▁hole｜>\n    return quick_sort(left) + [pivot] + quick_sort(right)<｜fim▁end｜>"
    )
    assert "\uff5cfim\u2581begin\uff5c" in prompt


def test_deepseek_other_files_go_inside_the_fim_begin_block() -> None:
    # DeepSeek-Coder's repository-level samples are one document of files headed by
    # path comments, so other files belong to the prefix.
    template = get_template("deepseek-coder")
    context = template.format_snippet("utils.py", "import torch")
    assert template.render("x = ", "", context=context) == (
        "<｜fim▁begin｜># utils.py\nimport torch\nx = <｜fim▁hole｜><｜fim▁end｜>"
    )


def test_qwen_file_level_fim_matches_the_readme() -> None:
    # QwenLM/Qwen2.5-Coder README, "File-Level Code Completion (Fill in the middle)"
    prompt = get_template("qwen2.5-coder").render(
        "def quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    ",
        "\n    return quicksort(left) + middle + quicksort(right)",
    )
    assert prompt == (
        "<|fim_prefix|>def quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    "
        "<|fim_suffix|>\n    return quicksort(left) + middle + quicksort(right)<|fim_middle|>"
    )


def test_qwen_repo_level_fim_matches_the_technical_report() -> None:
    # Qwen2.5-Coder technical report, Figure 4 (repo-level FIM format)
    template = get_template("qwen2.5-coder")
    context = template.format_snippet("a.py", "A = 1") + template.format_snippet("b.py", "B = 2\n")
    prompt = template.render("code_pre", "code_suf", filename="c.py", context=context)
    assert prompt == (
        "<|file_sep|>a.py\nA = 1\n<|file_sep|>b.py\nB = 2\n<|file_sep|>c.py\n"
        "<|fim_prefix|>code_pre<|fim_suffix|>code_suf<|fim_middle|>"
    )


def test_codegemma_matches_the_gemma_docs() -> None:
    # ai.google.dev/gemma/docs/codegemma/prompt-structure, "Fill in task example"
    prompt = get_template("codegemma").render(
        "import ", "\nif __name__ == '__main__':\n   sys.exit(0)"
    )
    assert prompt == (
        "<|fim_prefix|>import <|fim_suffix|>\nif __name__ == '__main__':\n   sys.exit(0)"
        "<|fim_middle|>"
    )


def test_codegemma_separates_files_with_file_separator() -> None:
    template = get_template("codegemma")
    context = template.format_snippet("lib.py", "X = 1")
    assert template.render("a", "b", filename="main.py", context=context) == (
        "<|file_separator|>lib.py\nX = 1\n<|file_separator|>main.py\n"
        "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"
    )


def test_codestral_is_suffix_first() -> None:
    # mistralai/mistral-common encode_fim: [BOS, SUFFIX, *suffix, PREFIX, *prefix]
    assert get_template("codestral").render("def f(", "return a + b") == (
        "[SUFFIX]return a + b[PREFIX]def f("
    )


def test_prefix_only_drops_suffix_and_filename() -> None:
    template = get_template("prefix-only")
    assert not template.fim
    assert not template.supports_filename
    prompt = template.render("x = ", "\nprint(x)\n", filename="a.py", context="# b.py\nB = 1\n")
    assert prompt == "# b.py\nB = 1\nx = "


def test_braces_in_code_are_not_template_fields() -> None:
    prompt = get_template("starcoder").render("d = {prefix}", "{suffix} {0}")
    assert prompt == "<fim_prefix>d = {prefix}<fim_suffix>{suffix} {0}<fim_middle>"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("starcoder", "<filename>a.py\nx = "),
        ("starcoder2", "<file_sep>a.py\nx = "),
        ("qwen2.5-coder", "<|file_sep|>a.py\nx = "),
        ("codellama", "x = "),
    ],
)
def test_render_prefix_only_keeps_the_file_header(name: str, expected: str) -> None:
    assert get_template(name).render_prefix_only("x = ", filename="a.py") == expected


# --- snippets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("starcoder", "<filename>lib/util.py\ndef helper():\n    pass\n"),
        ("starcoder2", "<file_sep>lib/util.py\ndef helper():\n    pass"),
        ("qwen2.5-coder", "<|file_sep|>lib/util.py\ndef helper():\n    pass\n"),
        ("codegemma", "<|file_separator|>lib/util.py\ndef helper():\n    pass\n"),
        ("deepseek-coder", "# lib/util.py\ndef helper():\n    pass\n"),
        ("codellama", "# lib/util.py\ndef helper():\n    pass\n"),
    ],
)
def test_format_snippet_per_family(name: str, expected: str) -> None:
    assert get_template(name).format_snippet("lib/util.py", "def helper():\n    pass") == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/main.ts", "// src/main.ts\n"),
        ("lib.rs", "// lib.rs\n"),
        ("query.SQL", "-- query.SQL\n"),
        ("page.html", "<!-- page.html -->\n"),
        ("style.css", "/* style.css */\n"),
        ("run.sh", "# run.sh\n"),
        ("Makefile", "# Makefile\n"),
        ("C:\\src\\app.go", "// C:\\src\\app.go\n"),
        ("core.clj", "; core.clj\n"),
        ("paper.tex", "% paper.tex\n"),
        ("main.ml", "(* main.ml *)\n"),
        ("theme.scss", "/* theme.scss */\n"),
        ("api.h", "// api.h\n"),
        ("Main.hs", "-- Main.hs\n"),
    ],
)
def test_comment_header_follows_the_file_language(path: str, expected: str) -> None:
    assert comment_header(path) == expected


# --- stop tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ends"),
    [
        ("starcoder", {"<|endoftext|>", "<fim_pad>"}),
        ("starcoder2", {"<|endoftext|>", "<file_sep>"}),
        ("codellama", {"<EOT>", "</s>"}),
        ("deepseek-coder", {"<｜end▁of▁sentence｜>", "<|EOT|>"}),
        ("qwen2.5-coder", {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>"}),
        ("codegemma", {"<|file_separator|>", "<eos>"}),
        ("codestral", {"</s>"}),
    ],
)
def test_family_end_tokens_stop_generation(name: str, ends: set[str]) -> None:
    assert ends <= set(get_template(name).stop_tokens)


# --- detection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "model", "expected"),
    [
        (STARCODER_TOKENS, "bigcode/starcoder", "starcoder"),
        (STARCODER_TOKENS, "bigcode/tiny_starcoder_py", "starcoder"),
        (STARCODER_TOKENS, "", "starcoder"),
        (STARCODER2_TOKENS, "bigcode/starcoder2-3b", "starcoder2"),
        (STARCODER2_TOKENS, "/models/local-checkpoint", "starcoder2"),
        (SANTACODER_TOKENS, "bigcode/santacoder", "santacoder"),
        (CODELLAMA_TOKENS, "codellama/CodeLlama-7b-hf", "codellama"),
        (DEEPSEEK_TOKENS, "deepseek-ai/deepseek-coder-1.3b-base", "deepseek-coder"),
        (QWEN_TOKENS, "Qwen/Qwen2.5-Coder-1.5B", "qwen2.5-coder"),
        (QWEN_TOKENS, "", "qwen2.5-coder"),
        (CODEGEMMA_TOKENS, "google/codegemma-2b", "codegemma"),
        (CODEGEMMA_TOKENS, "", "codegemma"),
        (CODESTRAL_TOKENS, "mistralai/Codestral-22B-v0.1", "codestral"),
        (SMOLLM2_TOKENS, "HuggingFaceTB/SmolLM2-135M", "prefix-only"),
        (["<s>", "</s>", "<unk>"], "", "prefix-only"),
        ([], "", "prefix-only"),
    ],
)
def test_detect_from_the_tokenizer_tokens(tokens: list[str], model: str, expected: str) -> None:
    assert detect_template(tokens, model).name == expected


def test_model_name_breaks_a_tie_between_families_sharing_sentinels() -> None:
    fim_only = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"]
    assert detect_template(fim_only, "bigcode/starcoder2-15b").name == "starcoder2"
    assert detect_template(fim_only, "bigcode/starcoderbase-1b").name == "starcoder"
    bar_fim_only = ["<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
    assert detect_template(bar_fim_only, "google/codegemma-7b").name == "codegemma"
    assert detect_template(bar_fim_only, "Qwen/Qwen2.5-Coder-7B").name == "qwen2.5-coder"


def test_file_tokens_outweigh_a_misleading_model_name() -> None:
    assert detect_template(STARCODER2_TOKENS, "my-starcoder-finetune").name == "starcoder2"


def test_model_name_never_selects_a_family_whose_tokens_are_missing() -> None:
    assert detect_template(SMOLLM2_TOKENS, "bigcode/starcoder").name == "prefix-only"


def test_spm_is_never_auto_detected() -> None:
    assert detect_template(STARCODER_TOKENS, "starcoder-spm").name == "starcoder"


def test_missing_tokens_names_what_a_forced_template_needs() -> None:
    assert get_template("starcoder").missing_tokens(QWEN_TOKENS) == (
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        "<filename>",
    )
    assert get_template("codellama").missing_tokens(CODELLAMA_TOKENS) == ()
    assert get_template("qwen2.5-coder").missing_tokens(QWEN_TOKENS) == ()
    assert get_template("prefix-only").missing_tokens([]) == ()


def test_every_detectable_template_finds_its_own_required_tokens() -> None:
    for name, template in TEMPLATES.items():
        if name in ("starcoder-spm", "prefix-only"):
            continue
        tokens = [*template.required_tokens, *template.metadata_tokens]
        assert detect_template(tokens, "").name == name


def test_get_template_error_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="starcoder-nope") as error:
        get_template("starcoder-nope")
    for name in TEMPLATES:
        assert name in str(error.value)
