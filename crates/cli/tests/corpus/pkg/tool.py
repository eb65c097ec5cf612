import sys

from .helpers import answer

print("tool:", __name__, __spec__.name, __package__, answer())
print("argv:", [a if i else a.rsplit("/", 2)[-2:] for i, a in enumerate(sys.argv)])
if __name__ == "__main__":
    print("tool main block ran")
