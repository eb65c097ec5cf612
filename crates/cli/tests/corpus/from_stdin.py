print("from stdin", __name__, __file__)
import sys
print(sys.argv)
raise SystemExit(4)
