import sys

from swfbridge.cli import main

sys.exit(main())
