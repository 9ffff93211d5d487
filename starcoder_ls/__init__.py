"""starcoder-ls: inline AI code completions from StarCoder-family models over LSP."""

__version__ = "0.1.0"
