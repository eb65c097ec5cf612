"""Constructs new in Python 3.10: structural pattern matching, parenthesized context managers."""
import sys
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int


class Color:
    RED = 1


match = 1
case = 2
_ = match + case


def matcher(value):
    match value:
        case 0 | 1 | -1 | 1.5 | -2j | 1 + 2j | "s" | b"b" | None | True | False:
            return "literal"
        case Color.RED:
            return "value"
        case [x, y, *rest]:
            return "sequence", x, y, rest
        case (a, b) | [a, b, _]:
            return "group", a, b
        case []:
            return "empty"
        case {"key": v, **others}:
            return "mapping", v, others
        case {1: _, "a": {"nested": [*_]}}:
            return "nested"
        case Point(x=0, y=yy) if yy > 0:
            return "class", yy
        case Point(1, 2) as point:
            return "positional", point
        case str() | bytes():
            return "type"
        case (1 as one) | (2 as one):
            return one
        case sys.maxsize:
            return "dotted"
        case _:
            return "default"


def match_statement_forms(command):
    match command.split():
        case [action]:
            return action
        case [action, obj]:
            return action, obj
    match (command, command):
        case (str(), _):
            pass
    match command, command:
        case _, _:
            pass
    match -1:
        case -1:
            pass
    match = 3
    return match


def context_managers():
    with (
        open(__file__) as first,
        open(__file__) as second,
    ):
        return first, second
    with (open(__file__), open(__file__)):
        pass


Alias = int | str


def probe():
    return "syntax probe 1"
