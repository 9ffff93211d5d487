"""Helpers shared by every test directory: cursor markers, a scripted engine, tiny models,
logit steering."""
