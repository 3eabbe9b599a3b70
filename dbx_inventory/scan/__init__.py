"""What to count and how: scan roots, discovery, the file-system walkers, the scanner,
the directory breakdown and the rows it produces. Stands on transport only.
"""
