import sys


class AppError(Exception):
    pass


def parse(text):
    return int(text)


def load(text):
    try:
        return parse(text)
    except ValueError as error:
        raise AppError(f"cannot load {text!r}") from error


def run():
    err = KeyError("noted")
    if hasattr(err, "add_note"):  # 3.11+
        err.add_note("a note added in 3.11")
    try:
        raise err
    except KeyError:
        pass
    print("before the crash", flush=False)
    print("to stderr before the crash", file=sys.stderr)
    load("forty-two")


run()
