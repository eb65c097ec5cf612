def outer():
    inner(0)


def inner(x):
    return 1 / x


outer()
