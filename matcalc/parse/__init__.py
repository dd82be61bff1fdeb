"""Parsing: plain text (and LaTeX) into matcalc expressions with shapes."""

from .grammar import ParseError
from .latex import parse_latex
from .text import Parsed, ShapeMismatchError, UnknownNameError, parse, parse_shape

__all__ = ["ParseError", "Parsed", "ShapeMismatchError", "UnknownNameError", "parse", "parse_latex", "parse_shape"]
