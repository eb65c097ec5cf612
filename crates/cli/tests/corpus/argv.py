"""Prints what a script sees of its own start-up."""
import sys

print("argv:", sys.argv)
print("name:", __name__, "| doc:", __doc__)
print("file:", __file__)
print("path0:", sys.path[0])
print("spec:", __spec__, "| package:", __package__, "| cached:", __cached__)
print("loader:", type(__loader__).__name__, __loader__.name)
print("globals:", sorted(globals()))
print("builtins is module:", type(__builtins__).__name__)
print("executable:", sys.executable)
print("prefix:", sys.prefix == sys.base_prefix)
print("flags:", sys.flags.interactive, sys.flags.inspect, sys.flags.optimize)
print("modules main:", sys.modules["__main__"] is sys.modules[__name__])

if __name__ == "__main__":
    print("main block ran")
