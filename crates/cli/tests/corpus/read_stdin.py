import sys

first = input("prompt> ")
print("first line:", first)
rest = sys.stdin.read().splitlines()
print("then", len(rest), "lines, last:", rest[-1] if rest else None)
