import atexit
import sys


@atexit.register
def first():
    print("registered first, runs last")


def failing():
    raise RuntimeError("atexit handler failed")


atexit.register(failing)
atexit.register(print, "registered last, runs first", "with args")


class Finalised:
    def __del__(self):
        print("__del__ at interpreter exit")


keep = Finalised()
print("main done", end="")
sys.stdout.write(" (no newline at the end)")
