"""Quality harness: `starcoder-ls eval` measures completions through the server over LSP.

HumanEval infilling (pass@1 by running the completed programs) and next-line completion in
any folder of sources (exact match, edit similarity), each next to a raw baseline without
post-processing. See docs/quality.md for the figures and how they were produced.

Nothing is imported here, so that `cli.py` can build its parser without loading pygls.
"""
