import sys

print("directory main:", __name__, sys.argv, sys.path[0].endswith("app_with_main"))
