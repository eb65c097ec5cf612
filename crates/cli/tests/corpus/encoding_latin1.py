# -*- coding: latin-1 -*-
print("caf\xe9", "café")
