"""Constructs new in Python 3.12: type aliases and type parameters (PEP 695), f-strings
that nest quotes, backslashes and comments (PEP 701)."""

type Point = tuple[float, float]
type ListOrSet[T] = list[T] | set[T]
type Bounded[T: int, *Ts, **P] = dict[T, tuple[*Ts]]
type Constrained[T: (int, str)] = T


def first[T](items: list[T]) -> T:
    return items[0]


def many[T: int, U: (str, bytes), *Ts, **P](a: T, *args: *Ts) -> U:
    pass


class Box[T]:
    def get[S](self, default: S) -> T | S:
        return default

    type Inner = int


class Sub[T](Box[T], metaclass=type):
    pass


async def agen[T](x: T) -> T:
    return x


names = ["a", "b"]
nested_same_quotes = f"{"quoted"}"
deep = f"{f"{f"{names[0]}"}"}"
backslash = f"{'\n'.join(names)}"
multiline_expression = f"{
    names[0]  # a comment inside the replacement field
}"
format_spec = f"{3.14159:{"10"}.{"2"}f}"
escapes = f"{"\N{GREEK SMALL LETTER ALPHA}"}"
reused = f"{names!r:>{len(names) * 10}}"


def probe():
    return "syntax probe 1"
