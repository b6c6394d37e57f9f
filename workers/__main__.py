"""`python -m workers`: run the worker process."""

import sys

from workers.main import main

sys.exit(main())
