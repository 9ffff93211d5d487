"""Serving engines reached over HTTP (OpenAI-compatible, TGI, Ollama): the client, the
dialects of their APIs, and the settings that set one up.
"""
