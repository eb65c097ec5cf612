"""Constructs new in Python 3.11: except*, PEP 646 star expressions in subscripts."""
from typing import Generic, TypeVarTuple

Ts = TypeVarTuple("Ts")
xs = [2, 3]
t = {}
t[1, *xs] = "star subscript target"
value = t[1, *xs]
t[*xs] = t[1, *xs]


class Array(Generic[*Ts]):
    def shape(self) -> tuple[*Ts]:
        return ()


def variadic(*args: *Ts) -> tuple[int, *Ts]:
    return args


def groups():
    try:
        raise ExceptionGroup("group", [ValueError(1), TypeError(2)])
    except* ValueError as errors:
        pass
    except* (TypeError, KeyError):
        pass
    try:
        pass
    except* ValueError:
        pass
    else:
        pass
    finally:
        pass


def probe():
    return "syntax probe 1"
