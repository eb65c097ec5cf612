import sys

print("package main:", __name__, __spec__.name, sys.argv[1:])
