"""``python -m codemix`` is the ``codemix`` command."""

import sys

from codemix.cli import main

sys.exit(main())
