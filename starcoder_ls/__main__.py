import sys

try:
    from starcoder_ls.cli import main
except KeyboardInterrupt:  # Ctrl-C before `main` can handle it (importing takes a second)
    sys.exit(130)

sys.exit(main())
