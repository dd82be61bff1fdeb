"""Printers and code generators: plain text, LaTeX, NumPy and SymPy."""
