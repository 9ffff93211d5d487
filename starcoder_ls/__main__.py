import sys

from starcoder_ls.cli import main

sys.exit(main())
