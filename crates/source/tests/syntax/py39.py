"""Every construct Python 3.9 compiles: a file jurigged must be able to patch."""
# Part of the syntax-coverage test (crates/cli/tests/syntax.rs): each file here must parse with
# jurigged's parser and be patchable when the running python compiles it.
from __future__ import annotations

import os.path as osp, sys
from collections import (
    OrderedDict,
    defaultdict,
)
from functools import wraps, partial

if sys.version_info >= (3, 9):
    pass
elif False:
    pass
else:
    raise SystemExit

π = 3.14159
ünïcode_name = "ünï"
numbers = [0, 1_000, 0x_ff, 0o17, 0b1010, 1e-3, 1.5j, 1., .5, 10E+2, 0j]
strings = ['a', "b", '''c''', """d "quoted" """, r"\d+", b"bytes", rb"\x00", Rb'x',
           BR"y", u"unicode", f"f{π}", F'{π!r:>10}', fr"{π}\n", Rf'{π}', "implicit" "concat",
           "\N{GREEK SMALL LETTER ALPHA}", "line \
continued"]
width = 12
fstrings = [f"{π=}", f"{π = :.2f}", f"{π:{width}.{3}}", f"{{literal}} {π!s}",
            f"{'nested' if π else 'other'}", f"{f'{π}'}", f'{"dict"}', f"{ {'a': 1}['a'] }",
            f"{(lambda: 1)()}", f"""{
    π
}"""]
total = 1 + 2 - 3 * 4 / 5 // 6 % 7 ** -8 @ 1 if False else 0
bits = ~1 & 2 | 3 ^ 4 << 5 >> 6
logic = not True and (False or None is not None) and 1 in [1] and 2 not in [] and 1 < 2 <= 3 != 4
empty = (), [], {}, set()
one = (1,)
sets = {1, 2}, {1,}
comps = [x for x in range(3) if x if not x], {x: y for x, y in {}.items()}, {x for x in ""}
gen = sum(x * y for x in range(3) for y in range(x))
nested_comp = [[y for y in range(x)] for x in range(3)]
walrus = [y := 5, y ** 2]
if (n := len(walrus)) > 1:
    pass
a, *rest = [1, 2, 3]
(b, c), d = (1, 2), 3
[e, f] = 1, 2
g = h = 0
g += 1; h -= 1; g *= 2; g /= 1; g //= 1; g %= 5; g **= 1; h <<= 1; h >>= 1; h &= 1; h |= 1; h ^= 1
matrix = None
# matrix @= matrix is a valid statement
slices = [1, 2, 3][::2], [1][0:], [1][:1], [1][:], "abc"[-1]
multi = {(1, 2): 3}[1, 2]
ellipsis = ...
merged = {**{}, "a": 1}
star_call = print(*[], **{}, sep="", end="")
unpacked = [*range(2), *"ab"], (*range(2),), {*range(2)}
conditional_lambda = lambda x, /, y=1, *args, z, **kw: x if y else z
lambda_defaults = lambda *, k=1: k
annotated: int = 1
only_annotation: "list[int]"
x = yield_value = None
del x
assert True, "message"
chained = osp.join("a", "b").upper().lower()[0:1]
subscript_types = dict[str, list[int]]
global_name = 1


def decorator(*args, **kwargs):
    def wrap(fn):
        return fn
    return wrap if args and not callable(args[0]) or kwargs else args[0] if args else wrap


buttons = [decorator]
registry = {"key": decorator}


@decorator
@decorator()
@decorator(1, key="value")
@buttons[0]
@registry["key"]
@(lambda fn: fn)
@decorator if True else decorator
@osp.join.__class__ and decorator
def decorated(a, b=2, /, c=3, *d, e, f=6, **g) -> "int":
    """Docstring."""
    global global_name
    global_name += 1
    x = 1

    def inner():
        nonlocal x
        x += 1
        return x

    return inner()


def generator(n):
    received = yield n
    yield from range(n)
    return received


def params(a: int, b: "str" = "b", *args: int, c: bool = True, **kwargs: float) -> None:
    pass


def positional(a, b, /):
    return a, b


def keyword_only(*, a, b=1):
    return a, b


def returns_tuple():
    rest = [1, 2]
    return 1, *rest


def yields_tuple():
    rest = [1]
    yield 1, *rest


def control_flow(items):
    for item in items:
        if item:
            continue
        elif item is None:
            break
    else:
        pass
    while False:
        pass
    else:
        pass
    try:
        pass
    except (ValueError, TypeError) as error:
        raise RuntimeError("x") from error
    except Exception:
        raise
    else:
        pass
    finally:
        pass
    try:
        pass
    finally:
        pass
    with open(__file__) as handle, open(__file__):
        pass
    with open(__file__) as (first):
        pass
    if True: pass
    for i in range(1): pass
    return [i for i in items], lambda: (yield)


async def coroutine(items):
    async with items as entered:
        pass
    async for item in items:
        pass
    await items
    result = [x async for x in items]
    awaited = [await y for y in items]
    return result, awaited, entered, item


class Meta(type):
    pass


class Base:
    pass


@decorator
class Klass(Base, metaclass=Meta):
    """Class docstring."""

    attribute: int = 0
    other = attribute + 1

    class Nested:
        def method(self):
            return __class__

    def method(self):
        return super().method()

    @staticmethod
    def static():
        pass

    @classmethod
    def klass(cls):
        return cls

    @property
    def prop(self):
        return self._prop

    @prop.setter
    def prop(self, value):
        self._prop = value

    async def amethod(self):
        pass

    def __private(self):
        return self.__private


class Empty: pass


class WithKeywords(Base, **{}):
    ...


if __name__ == "__main__":
    print(decorated(1, e=5))


def probe():
    return "syntax probe 1"
