"""The Language Server Protocol side: the pygls server and its handlers, the wire
(stdio framing, `--tcp` clients and their limits) and the conversions between LSP
records and the completion layer's plain data.
"""
