import sys

from pipenv_sync_ext.main import main

sys.exit(main())
