import sys

from .noop import main

sys.exit(main())
