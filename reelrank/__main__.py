import sys

from reelrank.cli import main

sys.exit(main())
