"""``python -m workers SCHEDULER_ADDRESS [options]``: see ``taskrun.dask.worker_command``."""

import sys

from taskrun.dask.worker_command import main

sys.exit(main())
