import sys

import sibling

print("sibling says", sibling.greet("world"))
print("path0 ends with sub:", sys.path[0].endswith("/sub"))
