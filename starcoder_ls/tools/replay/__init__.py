"""`starcoder-ls bench replay`: real source regions retyped key by key over LSP.

What an editor user lives through while typing (issue 11): whether a suggestion shows up
in the pauses, how soon after the last key, whether the server ever answers for text the
user has since changed, and what each keystroke costs the model.

- `regions`: which lines to retype and when each key is pressed (pure, seeded);
- `session`: the user and the editor (VS Code or Neovim) driving the server;
- `counters`: the server's counters, from `starcoder.stats` or an older server's log;
- `report`: one markdown table with a column per run;
- `runner`: the command itself (one server per run, optionally from another checkout).
"""
