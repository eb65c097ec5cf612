from . import VALUE


def answer():
    return VALUE + 1


def main():
    import sys
    print("pkg.helpers.main called with", sys.argv[1:])


def failing():
    raise RuntimeError("called and failed")


def returns_three():
    return 3
