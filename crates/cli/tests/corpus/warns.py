import warnings

warnings.warn("this is deprecated", DeprecationWarning)
warnings.warn("a user warning")
print("after warnings")
