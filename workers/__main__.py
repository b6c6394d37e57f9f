"""`python -m workers`: run the worker process."""

import os
import sys

from workers.main import main

# Guarded: the documents' renderer processes import this module again under another name.
if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: the SDK's native threads may crash interpreter teardown (sdk-python#300),
    # which would turn a clean drain into a non-zero exit.
    os._exit(code)
