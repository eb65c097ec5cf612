import pkg.helpers
from pkg import VALUE

print("answer:", pkg.helpers.answer(), VALUE)
print("helpers file is real:", pkg.helpers.__file__.endswith("pkg/helpers.py"))
