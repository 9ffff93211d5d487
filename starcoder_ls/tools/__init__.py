"""Tools beside the server: the demo, benchmarks, the soak, the typing replay and the eval.

Nothing under `lsp/`, `completion/`, `cursor/`, `engine/` or `text/` imports a tool;
`starcoder-ls serve` loads none of them.
"""
