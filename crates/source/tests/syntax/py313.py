"""Constructs new in Python 3.13: defaults for type parameters (PEP 696)."""

type WithDefault[T = int] = list[T]
type Several[T, U = str, *Ts = *tuple[int, ...], **P = [int, str]] = dict[T, U]


def function[T = int](x: T | None = None) -> T:
    return x


class Container[T = bytes, *Ts = *tuple[()]]:
    pass


def probe():
    return "syntax probe 1"
