"""The two command-line tools, and what they print: console, progress, Spark's block.

The top layer: it may import every other; nothing imports it.
"""
