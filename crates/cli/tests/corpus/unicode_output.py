import sys

print("héllo wörld — ünïcödé ✓ 日本語 🐍")
print("stderr too: ✓", file=sys.stderr)
sys.stdout.buffer.write("raw bytes ✓\n".encode())
sys.stdout.flush()
print(repr("\udce9"))
print("encoding:", sys.stdout.encoding, sys.stdout.errors, sys.stderr.errors)
print("lone surrogate next:")
print("\udce9 cannot be encoded")
