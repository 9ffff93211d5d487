"""What is around the cursor: open documents, the context cut from them, which files may
be read (exclusions), other files' snippets, and the prompt laid out for the model.
"""
