"""`python -m workers`: run the worker process."""

from workers.client import exit_process
from workers.main import main

# Guarded: the documents' renderer processes import this module again under another name.
if __name__ == "__main__":
    exit_process(main())
