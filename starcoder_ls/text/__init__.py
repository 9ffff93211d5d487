"""Reading code as text around the cursor: lines, brackets, quotes, string literals, likeness.

Helpers, not filters: the trigger and several post-processing filters ask the
same questions, and none of them needs a parser for these.
"""
