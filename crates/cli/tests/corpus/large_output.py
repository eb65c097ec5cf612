import sys

for i in range(200_000):
    print(f"line {i:07d} " + "x" * 20)
print("done", file=sys.stderr)
