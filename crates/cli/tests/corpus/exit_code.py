import sys

print("exiting with", sys.argv[1:])
kind = sys.argv[1]
if kind == "int":
    sys.exit(3)
elif kind == "message":
    sys.exit("fatal: something went wrong")
elif kind == "none":
    sys.exit(None)
elif kind == "true":
    raise SystemExit(True)
elif kind == "big":
    sys.exit(256 + 7)
elif kind == "negative":
    sys.exit(-1)
elif kind == "object":
    raise SystemExit(["a", "list"])
elif kind == "nested":
    try:
        sys.exit(5)
    finally:
        print("finally ran")
elif kind == "os_exit":
    print("buffered, lost by os._exit like in python")
    import os
    os._exit(9)
