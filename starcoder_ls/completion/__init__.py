"""One completion request from cursor to answer: admission, scheduling, the prompt plan,
generation on the engine, post-processing, caching, prefetch, statistics and the
engine's lifecycle (load, status, failures).
"""
