import sys

from cvjobs.cli import main

sys.exit(main())
