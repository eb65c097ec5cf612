print("before import")
import syntax_error  # noqa
