"""Defines the functions a test names with --loop and --xloop, and calls none of them."""


def f():
    return 1


def g():
    return 2


class H:
    def h(self):
        return 3


def k():
    return 4


print("defined f, g, H.h and k")
